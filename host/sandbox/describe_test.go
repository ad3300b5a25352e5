package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestMetadataKind(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	tests := []struct {
		file    string
		wantErr string // substring of the Load error; "" means it loads
		isExec  bool
		kind    string
		hooks   []string
	}{
		{file: "kind_hook", kind: "hook", hooks: []string{"pre_hook"}},
		{file: "kind_exec", isExec: true, kind: "wasm"},
		{file: "kind_both", isExec: true, kind: "wasm", hooks: []string{"pre_hook"}},
		{file: "kind_unknown", wantErr: `metadata kind lists unknown role "executer"`},
		{file: "kind_empty", wantErr: "metadata kind is empty"},
		{file: "kind_nohook", wantErr: `metadata kind lists "hook" but the module exports (or its get_hook_config lists) none of`},
		// get_hook_config lists the hook functions the module implements, of those it exports.
		{file: "hook_listed", kind: "hook", hooks: []string{"post_hook", "on_tree_started"}},
		// No kind: the exports decide.
		{file: "hook", kind: "hook", hooks: []string{"pre_hook", "post_hook", "on_tree_started"}},
		{file: "echo", isExec: true, kind: "wasm"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			m, err := rt.Load(context.Background(), wasmFile(t, tt.file), tt.file+".wasm")
			if tt.wantErr != "" {
				if KindOf(err) != KindInvalid {
					t.Fatalf("Load error = %v, want KindInvalid", err)
				}
				mustContain(t, "error", err.Error(), tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer m.Close(context.Background())
			if m.IsExecutor() != tt.isExec || m.Info().Kind != tt.kind || !slices.Equal(m.HookExports(), tt.hooks) {
				t.Fatalf("executor %v kind %q hooks %v, want %v %q %v", m.IsExecutor(), m.Info().Kind, m.HookExports(), tt.isExec, tt.kind, tt.hooks)
			}
			_, err = m.Execute(context.Background(), req(`{}`))
			if tt.isExec != (err == nil) {
				t.Fatalf("Execute error = %v, executor %v", err, tt.isExec)
			}
			_, err = m.CallHook(context.Background(), &HookCall{Export: "pre_hook"})
			if (len(tt.hooks) > 0 && tt.hooks[0] == "pre_hook") != (err == nil) {
				t.Fatalf("CallHook(pre_hook) error = %v, hooks %v", err, tt.hooks)
			}
		})
	}
}

// TestHookConfigHooks: the hooks get_hook_config lists are the module's hook functions,
// among those it exports; a name that is no hook function or not exported is refused.
func TestHookConfigHooks(t *testing.T) {
	t.Parallel()
	exported := []string{"pre_hook", "post_hook", "on_tree_failed"}
	tests := []struct {
		name    string
		hooks   []string
		want    []string
		wantErr string
	}{
		{"none listed: every export", nil, exported, ""},
		{"a subset, in ABI order", []string{"on_tree_failed", "pre_hook"}, []string{"pre_hook", "on_tree_failed"}, ""},
		{"an empty list: none", []string{}, nil, ""},
		{"not a hook function", []string{"prehook"}, nil, `lists hook "prehook", which is not a hook function`},
		{"not exported", []string{"on_tree_created"}, nil, `lists hook "on_tree_created", which the module does not export`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := hookConfig{Hooks: tc.hooks}.implemented(exported)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("implemented = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// describedFixture loads testdata/<name>.wasm in a throwaway runtime and returns its description
// after a JSON round trip, as a cache would hand it back.
func describedFixture(t *testing.T, name string) *Description {
	t.Helper()
	m := load(t, setup(t, Config{}), name)
	b, err := json.Marshal(m.Describe())
	if err != nil {
		t.Fatal(err)
	}
	var d Description
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// countingSource returns the bytes of testdata/<name>.wasm and counts reads.
func countingSource(t *testing.T, name string, reads *atomic.Int64) func() ([]byte, error) {
	wasm := wasmFile(t, name)
	return func() ([]byte, error) {
		reads.Add(1)
		return wasm, nil
	}
}

func TestLoadDescribedDefersCompilation(t *testing.T) {
	t.Parallel()
	tests := []string{"echo", "hook", "kind_hook", "kind_both", "noop", "hook_listed"}
	for _, name := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := describedFixture(t, name)
			eager := load(t, setup(t, Config{}), name)
			rt := setup(t, Config{})
			var reads atomic.Int64
			m, err := rt.LoadDescribed(d, name+".wasm", countingSource(t, name, &reads))
			if err != nil {
				t.Fatalf("LoadDescribed: %v", err)
			}
			defer m.Close(context.Background())
			if s := rt.Stats(); s.Compiles != 0 || s.Instances != 0 || s.Described != 1 || reads.Load() != 0 {
				t.Fatalf("after LoadDescribed: stats %+v, %d reads; want nothing compiled, instantiated or read", s, reads.Load())
			}
			gi, wi := m.Info(), eager.Info()
			if gi.ID != wi.ID || gi.Kind != wi.Kind || gi.Hash != wi.Hash || string(gi.InputSchema) != string(wi.InputSchema) ||
				string(gi.OutputSchema) != string(wi.OutputSchema) || (gi.Compiled == nil) != (wi.Compiled == nil) ||
				m.IsExecutor() != eager.IsExecutor() || !slices.Equal(m.HookExports(), eager.HookExports()) ||
				!slices.Equal(m.HookExecutors(), eager.HookExecutors()) {
				t.Fatalf("described module differs from the loaded one:\n%+v\n%+v", gi, wi)
			}
			if err := m.Ready(context.Background()); err != nil {
				t.Fatalf("Ready: %v", err)
			}
			if s := rt.Stats(); s.Compiles != 1 || s.Instances != 0 || reads.Load() != 1 {
				t.Fatalf("after Ready: stats %+v, %d reads; want one compile, no instance", s, reads.Load())
			}
			if m.IsExecutor() {
				if _, err := m.Execute(context.Background(), req(`{}`)); err != nil {
					t.Fatalf("Execute: %v", err)
				}
				if s := rt.Stats(); s.Instances != 1 || s.Compiles != 1 {
					t.Fatalf("after Execute: stats %+v", s)
				}
			}
		})
	}
}

func TestLoadDescribedRefusesBadDescriptions(t *testing.T) {
	t.Parallel()
	good := describedFixture(t, "echo")
	rt := setup(t, Config{Defaults: taskLimits(0, 2, 0), Max: taskLimits(0, 2, 0)})
	tests := []struct {
		name   string
		change func(d *Description)
		want   string
	}{
		{"other format", func(d *Description) { d.Format = DescriptionFormat + 1 }, "format 4, this host reads format 3"},
		{"bad hash", func(d *Description) { d.Hash = "xyz" }, "is not a sha256"},
		{"no info", func(d *Description) { d.Info = nil }, "info is missing"},
		{"info of another hash", func(d *Description) { d.Info.Hash = Hash([]byte("x")) }, "names another hash"},
		{"unknown kind", func(d *Description) { d.Info.Kind = "builtin" }, `kind "builtin"`},
		{"unknown hook", func(d *Description) { d.Hooks = []string{"pre_flight"} }, `"pre_flight" is not a hook export`},
		{"neither", func(d *Description) { d.Info.Kind = "hook"; d.Hooks = nil }, "neither an executor nor a hook"},
		{"memory above the maximum", func(d *Description) { d.MinPages = 3 }, "minimum memory of 3 pages"},
		{"schema does not compile", func(d *Description) { d.Info.InputSchema = json.RawMessage(`{"type":12}`) }, "input schema does not compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := *good
			info := *good.Info
			d.Info = &info
			tt.change(&d)
			_, err := rt.LoadDescribed(&d, "echo.wasm", func() ([]byte, error) { return wasmFile(t, "echo"), nil })
			if KindOf(err) != KindInvalid {
				t.Fatalf("err = %v, want KindInvalid", err)
			}
			mustContain(t, "error", err.Error(), tt.want)
		})
	}
	if s := rt.Stats(); s.Described != 0 || s.Compiles != 0 {
		t.Fatalf("refused descriptions must not count or compile: %+v", s)
	}
}

func TestReadyFailures(t *testing.T) {
	t.Parallel()
	echo := describedFixture(t, "echo")
	tests := []struct {
		name   string
		desc   func() *Description
		source func(t *testing.T) ([]byte, error)
		want   string
	}{
		{"changed bytes", func() *Description { return echo },
			func(t *testing.T) ([]byte, error) { return wasmFile(t, "noop"), nil }, "the module changed since it was described"},
		{"unreadable", func() *Description { return echo },
			func(t *testing.T) ([]byte, error) { return nil, errors.New("disk on fire") }, "cannot read the module: disk on fire"},
		{"description lies about hooks", func() *Description {
			d := *echo
			d.Hooks = []string{"pre_hook"}
			return &d
		}, func(t *testing.T) ([]byte, error) { return wasmFile(t, "echo"), nil }, "does not match its description"},
		{"description lies about memory", func() *Description {
			d := *echo
			d.MinPages++
			return &d
		}, func(t *testing.T) ([]byte, error) { return wasmFile(t, "echo"), nil }, "does not match its description"},
		{"not a module", func() *Description {
			d := *echo
			info := *echo.Info
			d.Hash, info.Hash = Hash([]byte("junk")), Hash([]byte("junk"))
			d.Info = &info
			return &d
		}, func(t *testing.T) ([]byte, error) { return []byte("junk"), nil }, "does not compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{})
			var reads atomic.Int64
			m, err := rt.LoadDescribed(tt.desc(), "echo.wasm", func() ([]byte, error) {
				reads.Add(1)
				return tt.source(t)
			})
			if err != nil {
				t.Fatalf("LoadDescribed: %v", err)
			}
			defer m.Close(context.Background())
			for i := 0; i < 2; i++ { // the failure is remembered
				err := m.Ready(context.Background())
				if KindOf(err) != KindInvalid {
					t.Fatalf("Ready #%d error = %v, want KindInvalid", i, err)
				}
				mustContain(t, "error", err.Error(), tt.want)
				mustContain(t, "error", err.Error(), "plugin echo")
			}
			if _, err := m.Execute(context.Background(), req(`{}`)); KindOf(err) != KindInvalid {
				t.Fatalf("Execute error = %v, want KindInvalid", err)
			}
			if reads.Load() != 1 {
				t.Fatalf("source read %d times, want once", reads.Load())
			}
			if s := rt.Stats(); s.Instances != 0 {
				t.Fatalf("a module that failed Ready must not be instantiated: %+v", s)
			}
		})
	}
}

func TestReadyConcurrentCompilesOnce(t *testing.T) {
	t.Parallel()
	d := describedFixture(t, "echo")
	rt := setup(t, Config{})
	var reads atomic.Int64
	m, err := rt.LoadDescribed(d, "echo.wasm", countingSource(t, "echo", &reads))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Execute(context.Background(), req(`{"n":1}`)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Execute: %v", err)
	}
	if s := rt.Stats(); s.Compiles != 1 || reads.Load() != 1 {
		t.Fatalf("stats %+v, %d reads; want one compile and one read", s, reads.Load())
	}
}

func TestDescribedModuleClose(t *testing.T) {
	t.Parallel()
	d := describedFixture(t, "echo")
	tests := []struct {
		name       string
		readyFirst bool
	}{
		{"closed before Ready", false},
		{"closed after Ready", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{})
			var reads atomic.Int64
			m, err := rt.LoadDescribed(d, "echo.wasm", countingSource(t, "echo", &reads))
			if err != nil {
				t.Fatal(err)
			}
			if tt.readyFirst {
				if err := m.Ready(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Execute(context.Background(), req(`{}`)); KindOf(err) != KindClosed {
				t.Fatalf("Execute after Close: %v, want KindClosed", err)
			}
			if !tt.readyFirst {
				if err := m.Ready(context.Background()); KindOf(err) != KindClosed || reads.Load() != 0 {
					t.Fatalf("Ready after Close: %v with %d reads, want KindClosed and no read", err, reads.Load())
				}
			}
			rt.mu.Lock()
			n := len(rt.compiled)
			rt.mu.Unlock()
			if n != 0 {
				t.Fatalf("%d compiled modules still referenced after Close", n)
			}
		})
	}
}

// TestMetadataRetryPolicy: an executor's metadata may carry its default retry policy,
// checked at load and kept in its description; an invalid one keeps the module out.
func TestMetadataRetryPolicy(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "retry_meta")
	r := m.Info().Retry
	if r == nil || r.MaxAttempts == nil || *r.MaxAttempts != 3 || r.InitialMS == nil || *r.InitialMS != 50 ||
		!slices.Equal(r.RetryOn, []string{"timeout", "code:429"}) {
		t.Fatalf("metadata retry policy = %+v", r)
	}
	if d := describedFixture(t, "retry_meta"); d.Info.Retry == nil || *d.Info.Retry.MaxAttempts != 3 {
		t.Fatalf("described retry policy = %+v, want it kept", d.Info.Retry)
	}
	_, err := rt.Load(context.Background(), wasmFile(t, "retry_bad"), "retry_bad.wasm")
	if KindOf(err) != KindInvalid {
		t.Fatalf("Load of an invalid policy: %v, want KindInvalid", err)
	}
	mustContain(t, "error", err.Error(), "retry.max_attempts")
}
