package sandbox

import (
	"cmp"
	"context"
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
		os.Exit(CompileWorkerMain(context.Background(), dir, os.Stdin, os.Stderr))
	}
	os.Exit(m.Run())
}

// seqIfs is a module of one function of n sequential empty ifs (5n bytes): wazero's
// compiler takes time quadratic in n (40,000: over a minute here).
func seqIfs(n int) []byte {
	body := "\x00" + strings.Repeat("\x41\x00\x04\x40\x0b", n) + "\x0b" // i32.const 0, if, end
	code := string(appendU32(nil, uint32(len(body)))) + body
	return wasmModule(sec(secType, "\x01\x60\x00\x00"), sec(secFunction, "\x01\x00"), sec(secCode, "\x01"+code))
}

// TestCompileWorker: with a compile worker, a module is compiled there first and its
// code read from the cache; a compile past the timeout, and a worker that dies, refuse
// the module and leave the runtime working; a module whose rewrite is cached, or a
// runtime without a cache dir, does not start a worker.
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
		{name: "no cache dir, no worker", worker: never, noCache: true, wasm: wasmFile(t, "echo")},
		{name: "an invalid module", worker: self, want: "does not compile: invalid function[0]: type section index 5 out of range",
			wasm: wasmModule(sec(secType, "\x00"), sec(secFunction, "\x01\x05"), sec(secCode, "\x01\x02\x00\x0b"))},
		{name: "checked before a worker starts", worker: never, want: "malformed module: global section",
			wasm: wasmModule(sec(secGlobal, huge))},
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
			if byWorker := strings.Contains(logs.String(), "module compiled by a worker"); byWorker != !tt.noCache {
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
