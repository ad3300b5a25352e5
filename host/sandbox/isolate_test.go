package sandbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// TestMain makes this test binary its own compile worker (Config.CompileWorker), as the
// apflow binary is.
func TestMain(m *testing.M) {
	if dir, ok := os.LookupEnv(CompileWorkerEnv); ok {
		os.Exit(CompileWorkerMain(context.Background(), dir, CompileWorkerThreads(os.Getenv), os.Stdin, os.Stdout, os.Stderr))
	}
	if dir, ok := os.LookupEnv(hostLoadsEnv); ok {
		os.Exit(hostLoads(dir))
	}
	os.Exit(m.Run())
}

// hostLoadsEnv makes this test binary a host that loads a module through a compile
// worker that never ends (/bin/sleep), for a test to kill (TestCompileWorkerDiesWithHost).
const hostLoadsEnv = "APFLOW_TEST_HOST_LOADS"

// hostLoads is the host of hostLoadsEnv: it loads a small module in a runtime whose
// compile worker is /bin/sleep, which never answers, and returns only if the load ends.
func hostLoads(cacheDir string) int {
	ctx := context.Background()
	rt, err := New(ctx, Config{CompileWorker: []string{"/bin/sleep", "600"}, CacheDir: cacheDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "New:", err)
		return 1
	}
	_, err = rt.Load(ctx, seqIfs(10), "a.wasm")
	fmt.Fprintln(os.Stderr, "the load ended:", err)
	return 1
}

// seqIfs is a module of one function of n sequential empty ifs (5n bytes): wazero's
// compiler takes time quadratic in n (40,000: over a minute here).
func seqIfs(n int) []byte {
	body := "\x00" + strings.Repeat("\x41\x00\x04\x40\x0b", n) + "\x0b" // i32.const 0, if, end
	code := string(appendU32(nil, uint32(len(body)))) + body
	return wasmModule(sec(secType, "\x01\x60\x00\x00"), sec(secFunction, "\x01\x00"), sec(secCode, "\x01"+code))
}

// validatorPanic is a module on which wazero's validator panics (found by a review's
// fuzzing): its second function's type index, 19, names no type.
const validatorPanic = "\x00asm\x01\x00\x00\x00\x01\x09\x02\x60\x00\x00\x60\x02\x7f\x7f\x00\x03\x03\x02\x00\x13" +
	"\x0a\x0e\x02\x09\x00\x02\x40\x41\x00\x10\x01\x0b\x0b\x02\x00\x0b" +
	"\x00\x2b\x04name\x01\x1d\x01\x00\x1atype-second-empty-in-block\x02\x05\x02\x00\x00\x01\x00"

// TestCompileWorker: with a compile worker, a module is compiled there first and the
// rewrite it sends back compiled from the cache; a compile past the timeout, and a
// worker that dies or sends nothing back, refuse the module and leave the runtime
// working; a module whose rewrite is cached, or a runtime without a cache dir, does not
// start a worker.
func TestCompileWorker(t *testing.T) {
	t.Parallel()
	self := []string{os.Args[0]}
	crash := []string{"/bin/sh", "-c", "echo 'fatal error: runtime: out of memory' >&2; echo 'goroutine 1 [running]:' >&2; exit 2"}
	never := []string{"/bin/false"}
	for _, tt := range []struct {
		name    string
		worker  []string
		noCache bool
		timeout time.Duration // default 1 minute
		wasm    []byte
		want    string // "" for a load
	}{
		{name: "compiled by the worker", worker: self, wasm: wasmFile(t, "echo")},
		{name: "a compile past the timeout", worker: self, timeout: time.Second, wasm: seqIfs(40000), want: "compiling took longer than 1s"},
		{name: "a worker that dies", worker: crash, wasm: wasmFile(t, "echo"), want: "the compile worker failed (exit status 2): fatal error: runtime: out of memory"},
		{name: "a worker that refuses", worker: never, wasm: wasmFile(t, "echo"), want: "the compile worker failed (exit status 1): no message"},
		// The host compiles the rewrite the worker sends back, rather than rewriting the
		// module again: a worker that succeeds without one fails the load.
		{name: "a worker that sends nothing back", worker: []string{"/bin/true"}, wasm: wasmFile(t, "echo"),
			want: "the compile worker exited without sending back the rewritten module"},
		{name: "no cache dir, no worker", worker: never, noCache: true, wasm: wasmFile(t, "echo")},
		{name: "an invalid module", worker: self, want: "does not compile: invalid function[0]: type section index 5 out of range",
			wasm: wasmModule(sec(secType, "\x00"), sec(secFunction, "\x01\x05"), sec(secCode, "\x01\x02\x00\x0b"))},
		{name: "checked before a worker starts", worker: never, want: "malformed module: global section",
			wasm: wasmModule(sec(secGlobal, huge))},
		// wazero's validator panics on this module (a call to a function whose type index
		// is out of range): the worker words it as a host would.
		{name: "a panic in the worker", worker: self, want: "a defect of the host or a refusal of the system: runtime error: index out of range",
			wasm: []byte(validatorPanic)},
		{name: "a worker that cannot start", worker: []string{"/nonexistent/apflow"}, wasm: wasmFile(t, "echo")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{CompileWorker: tt.worker, CompileTimeout: cmp.Or(tt.timeout, time.Minute), CacheDir: t.TempDir()}
			if tt.noCache {
				cfg.CacheDir = ""
			}
			var logs *logbuf.Buffer
			cfg.Logger, logs = newLogger()
			rt := setup(t, cfg)
			m, err := rt.Load(context.Background(), tt.wasm, "m.wasm")
			if tt.want != "" {
				if KindOf(err) != KindInvalid {
					t.Fatalf("Load = %v, want %s", err, KindInvalid)
				}
				mustContain(t, "error", err.Error(), tt.want)
				load(t, setup(t, Config{CacheDir: t.TempDir()}), "noop") // the host goes on
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer m.Close(context.Background())
			if resp, err := m.Execute(context.Background(), req(`{"a":1}`)); err != nil || string(resp.Output) != `{"a":1}` {
				t.Fatalf("Execute = %+v, %v", resp, err)
			}
			inHost := tt.noCache || tt.worker[0] == "/nonexistent/apflow"
			if byWorker := strings.Contains(logs.String(), "module compiled by a worker"); byWorker == inHost {
				t.Fatalf("compiled by a worker: %v; logs:\n%s", byWorker, logs.String())
			}
			if tt.noCache {
				return
			}
			// The rewrite is cached now: a later runtime on the cache does not start a
			// worker (one that would fail).
			again := setup(t, Config{CompileWorker: never, CacheDir: cfg.CacheDir})
			load2, err := again.Load(context.Background(), tt.wasm, "m.wasm")
			if err != nil {
				t.Fatalf("Load from the cache: %v", err)
			}
			_ = load2.Close(context.Background())
		})
	}
}

// TestCompileWorkerEnds: a worker ends with the caller whose compile it is, and a caller
// waiting for the same module then compiles it itself; the runtime's Close ends it.
func TestCompileWorkerEnds(t *testing.T) {
	t.Parallel()
	slow := seqIfs(40000)
	t.Run("a caller's cancellation", func(t *testing.T) {
		t.Parallel()
		rt := setup(t, Config{CompileWorker: []string{os.Args[0]}, CompileTimeout: 2 * time.Second, CacheDir: t.TempDir()})
		ctx, cancel := context.WithCancel(context.Background())
		first, second := make(chan error, 1), make(chan error, 1)
		go func() { _, err := rt.Load(ctx, slow, "a.wasm"); first <- err }()
		for rt.compiles.Load() == 0 { // the first caller compiles
			time.Sleep(time.Millisecond)
		}
		go func() { _, err := rt.Load(context.Background(), slow, "b.wasm"); second <- err }()
		cancel()
		if err := <-first; !errors.Is(err, context.Canceled) {
			t.Fatalf("the cancelled caller's Load = %v, want its context's error", err)
		}
		if err := <-second; err == nil || !strings.Contains(err.Error(), "compiling took longer than 2s") {
			t.Fatalf("the other caller's Load = %v, want the compile timeout (its own compile)", err)
		}
	})
	t.Run("Close", func(t *testing.T) {
		t.Parallel()
		rt, err := New(context.Background(), Config{CompileWorker: []string{os.Args[0]}, CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 1)
		go func() { _, err := rt.Load(context.Background(), slow, "a.wasm"); errs <- err }()
		for rt.compiles.Load() == 0 { // the compile has begun
			time.Sleep(10 * time.Millisecond)
		}
		if err := rt.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-errs; KindOf(err) != KindClosed {
			t.Fatalf("Load = %v, want %s", err, KindClosed)
		}
	})
}
