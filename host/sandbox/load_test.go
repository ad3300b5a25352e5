package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadInfo(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	tests := []struct {
		file       string
		id, kind   string
		isExec     bool
		hooks      []string
		hookFor    []string
		hasSchema  bool
		compiled   bool
		hasOutput  bool
		capability []string
	}{
		{file: "echo", id: "echo", kind: "wasm", isExec: true, hasSchema: true, compiled: true, hasOutput: true, capability: []string{}},
		{file: "noop", id: "noop", kind: "wasm", isExec: true, hasSchema: true, capability: []string{}},
		{file: "hook", id: "audit_hook", kind: "hook", hooks: []string{"pre_hook", "post_hook", "on_tree_started"},
			hookFor: []string{"echo"}, capability: []string{"repository", "config"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			m := load(t, rt, tt.file)
			info := m.Info()
			if info.ID != tt.id || info.Kind != tt.kind || m.ID() != tt.id {
				t.Fatalf("id, kind = %q, %q, want %q, %q", info.ID, info.Kind, tt.id, tt.kind)
			}
			if info.Hash != Hash(wasmFile(t, tt.file)) || m.Hash() != info.Hash || len(info.Hash) != 64 {
				t.Fatalf("hash = %q", info.Hash)
			}
			if m.IsExecutor() != tt.isExec {
				t.Fatalf("IsExecutor = %v", m.IsExecutor())
			}
			if !slices.Equal(m.HookExports(), tt.hooks) || !slices.Equal(m.HookExecutors(), tt.hookFor) {
				t.Fatalf("hooks = %v for %v, want %v for %v", m.HookExports(), m.HookExecutors(), tt.hooks, tt.hookFor)
			}
			if (info.InputSchema != nil) != tt.hasSchema || (info.Compiled != nil) != tt.compiled {
				t.Fatalf("input schema = %s (compiled %v)", info.InputSchema, info.Compiled != nil)
			}
			if (info.OutputSchema != nil) != tt.hasOutput {
				t.Fatalf("output schema = %s", info.OutputSchema)
			}
			if !slices.Equal(info.Capabilities, tt.capability) || info.Version != "1.0.0" {
				t.Fatalf("metadata = %+v", info)
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{LoadTimeout: 300 * time.Millisecond})
	tests := []struct {
		file string
		want string
	}{
		{"badimport_env", "plugin badimport_env (sha256 "},
		{"badimport_env", "imports env.foo: only wasi_snapshot_preview1 and apflow may be imported"},
		{"badimport_name", "imports apflow.launch_missiles, which the host does not provide"},
		{"badimport_sig", "imports apflow.log with signature (i32) -> (), the host provides (i32, i32, i32) -> ()"},
		{"hugemem", "declares a minimum memory of 60000 pages (3.7 GiB), above the memory limit of 16384 pages (1 GiB)"},
		{"initloop", "rejected at load: instantiation failed: timed out after 300ms"},
		{"badschema", "input schema does not compile"},
		{"bigschema", "get_input_schema result of 2.1 MB exceeds the bound of a module's metadata and schemas, 1 MiB"},
		// An ABI problem says what to do, as apflow plugins inspect does.
		{"command", "is a WASI command (exports _start, not _initialize): its runtime is never set up, so its exports trap; to fix: the module was built as a command"},
		{"badimport_env", "; to fix: "},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := rt.Load(context.Background(), wasmFile(t, tt.file), tt.file+".wasm")
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if time.Since(start) > time.Minute {
				t.Fatalf("Load took %v: it hung", time.Since(start))
			}
			if KindOf(err) != KindInvalid {
				t.Fatalf("kind = %q, want %q (%v)", KindOf(err), KindInvalid, err)
			}
			mustContain(t, "error", err.Error(), tt.want)
		})
	}
	t.Run("not wasm", func(t *testing.T) {
		t.Parallel()
		_, err := rt.Load(context.Background(), []byte("\x00asm garbage"), "junk.wasm")
		if KindOf(err) != KindInvalid {
			t.Fatalf("err = %v", err)
		}
		mustContain(t, "error", err.Error(), "plugin junk (sha256 ")
		mustContain(t, "error", err.Error(), "does not compile")
	})
}

func TestLoadSharesCompiledModule(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	a := load(t, rt, "noop")
	b := load(t, rt, "noop")
	if a.compiled != b.compiled {
		t.Fatal("two loads of the same bytes compiled twice")
	}
	// Closing one keeps the other usable.
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Execute(context.Background(), req(`{}`)); err != nil {
		t.Fatalf("Execute after closing the twin: %v", err)
	}
	if _, err := a.Execute(context.Background(), req(`{}`)); KindOf(err) != KindClosed {
		t.Fatalf("Execute on a closed module: %v, want KindClosed", err)
	}
}

func TestPersistentCompilationCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rt := setup(t, Config{CacheDir: dir})
	load(t, rt, "echo")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache dir is empty after a load (%v)", err)
	}
	// A second runtime on the same directory (a restart) loads from the cache.
	rt2 := setup(t, Config{CacheDir: dir})
	m := load(t, rt2, "echo")
	resp, err := m.Execute(context.Background(), req(`{"a":1}`))
	if err != nil || string(resp.Output) != `{"a":1}` {
		t.Fatalf("Execute after restart = %v, %v", resp, err)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Max: taskLimits(0, 70000, 0)},
		{Defaults: taskLimits(0, 512, 0), Max: taskLimits(0, 256, 0)},
		{Defaults: taskLimits(5000, 0, 0), Max: taskLimits(1000, 0, 0)},
		// A maximum wall time that overflows time.Duration would time every call out.
		{Max: taskLimits(math.MaxInt64/1000, 0, 0)},
	} {
		if _, err := New(context.Background(), cfg); err == nil {
			t.Fatalf("New(%+v) succeeded", cfg)
		}
	}
	// A ceiling below a built-in default lowers the default; nothing else has to change.
	for _, max := range []Config{{Max: taskLimits(10000, 0, 0)}, {Max: taskLimits(0, 64, 0)}, {Max: taskLimits(0, 0, 1000)}} {
		cfg, err := max.withDefaults()
		if err != nil {
			t.Fatalf("ceilings %+v alone: %v", max.Max, err)
		}
		if d := cfg.Defaults; d.TimeoutMS > cfg.Max.TimeoutMS || d.MemoryPages > cfg.Max.MemoryPages || d.MaxResultBytes > cfg.Max.MaxResultBytes ||
			(max.Max.TimeoutMS > 0 && d.TimeoutMS != max.Max.TimeoutMS) || (max.Max.MemoryPages > 0 && d.MemoryPages != max.Max.MemoryPages) {
			t.Fatalf("ceilings %+v: defaults %+v", max.Max, d)
		}
	}
	var rt Runtime
	rt.cfg, _ = Config{}.withDefaults()
	got := rt.Effective(taskLimits(0, 1<<20, 5))
	if got.TimeoutMS != DefaultTimeoutMS || got.MemoryPages != MaxMemoryPages || got.MaxResultBytes != 5 {
		t.Fatalf("Effective = %+v", got)
	}
	b, _ := json.Marshal(got)
	mustContain(t, "effective limits", string(b), `"memory_pages":16384`)
}

// TestLoadRacingClose closes the runtime while a module is being loaded or made ready:
// the load fails with KindClosed, not KindInvalid (the plugin is not at fault).
func TestLoadRacingClose(t *testing.T) {
	t.Parallel()
	t.Run("Load in _initialize", func(t *testing.T) {
		t.Parallel()
		rt := setup(t, Config{LoadTimeout: time.Hour})
		errs := make(chan error, 1)
		go func() {
			_, err := rt.Load(context.Background(), wasmFile(t, "initloop"), "initloop.wasm")
			errs <- err
		}()
		for rt.Stats().Instances == 0 { // Load is instantiating: _initialize never returns
			time.Sleep(time.Millisecond)
		}
		if err := rt.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-errs; KindOf(err) != KindClosed {
			t.Fatalf("Load = %v, want KindClosed", err)
		}
	})
	t.Run("Ready after Close", func(t *testing.T) {
		t.Parallel()
		d := describedFixture(t, "echo")
		rt := setup(t, Config{})
		m, err := rt.LoadDescribed(d, "echo.wasm", func() ([]byte, error) { return wasmFile(t, "echo"), nil })
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := m.Ready(context.Background()); KindOf(err) != KindClosed {
			t.Fatalf("Ready = %v, want KindClosed", err)
		}
	})
}

// TestLoadFailureIsTheLoadersToReport: a module that traps while it is loaded fails
// Load with the reason; the failed call is logged at debug level only, since the
// loader reports the error (a registry's "not loaded", plugins inspect's problem).
func TestLoadFailureIsTheLoadersToReport(t *testing.T) {
	t.Parallel()
	log, buf := newLogger()
	rt := setup(t, Config{Logger: log})
	_, err := rt.Load(context.Background(), wasmFile(t, "metatrap"), "metatrap.wasm")
	mustContain(t, "error", fmt.Sprint(err), "rejected at load: in get_metadata: trapped: unreachable")
	mustContain(t, "log", buf.String(), "[DEBUG] task: plugin call failed")
	if strings.Contains(buf.String(), "[ERROR]") {
		t.Errorf("a failed load logged an error itself:\n%s", buf.String())
	}
}
