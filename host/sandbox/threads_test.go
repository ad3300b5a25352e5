package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/experimental"
)

func TestShareCores(t *testing.T) {
	tests := []struct {
		procs, compiles, want int
	}{
		{procs: 2, compiles: 1, want: 2},
		{procs: 2, compiles: 2, want: 1},
		{procs: 2, compiles: 3, want: 1},
		{procs: 8, compiles: 3, want: 2},
		{procs: 64, compiles: 1, want: maxCompileThreads},
		{procs: 1, compiles: 0, want: 1},
	}
	for _, tt := range tests {
		if got := shareCores(tt.procs, tt.compiles); got != tt.want {
			t.Errorf("shareCores(%d, %d) = %d, want %d", tt.procs, tt.compiles, got, tt.want)
		}
	}
}

func TestCompileWorkerThreads(t *testing.T) {
	tests := []struct {
		env  string
		want int
	}{
		{"", 1}, {"0", 1}, {"-2", 1}, {"two", 1}, {"2", 2}, {"1000", maxCompileThreads},
	}
	for _, tt := range tests {
		getenv := func(k string) string {
			if k != CompileThreadsEnv {
				t.Fatalf("read %s", k)
			}
			return tt.env
		}
		if got := CompileWorkerThreads(getenv); got != tt.want {
			t.Errorf("CompileWorkerThreads with %q = %d, want %d", tt.env, got, tt.want)
		}
	}
}

// TestCompileWithThreads loads a module whose first compile runs in a worker, started
// through a shell that records the goroutines it is told to compile with, and one
// compiled in this process (on one goroutine): the worker is told the cores this
// compile has, and the modules run.
func TestCompileWithThreads(t *testing.T) {
	if got := experimental.GetCompilationWorkers(withCompileThreads(context.Background(), 2)); got != 2 {
		t.Fatalf("withCompileThreads(2) gives wazero %d goroutines", got)
	}
	told := filepath.Join(t.TempDir(), "threads")
	recording := []string{"/bin/sh", "-c", `echo "$` + CompileThreadsEnv + `" > "$0"; exec "$1"`, told, os.Args[0]}
	for _, worker := range [][]string{recording, nil} {
		rt := setup(t, Config{CacheDir: t.TempDir(), CompileWorker: worker})
		m := load(t, rt, "echo")
		out, err := m.Execute(context.Background(), req(`{"a":[1,2]}`))
		if err != nil || string(out.Output) != `{"a":[1,2]}` {
			t.Fatalf("worker %q: echo = %s, %v", worker, out.Output, err)
		}
	}
	got, err := os.ReadFile(told)
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(shareCores(runtime.GOMAXPROCS(0), 1)); strings.TrimSpace(string(got)) != want {
		t.Fatalf("the worker was told %q goroutines, want %s", got, want)
	}
}

// TestHostCompilesOnOneGoroutine: the host's own compiles run on one goroutine, even
// under a caller's context that asks wazero for more (threads.go says why).
func TestHostCompilesOnOneGoroutine(t *testing.T) {
	rt := setup(t, Config{})
	got := make(chan int, 1)
	rt.testBeforeCompile = func(ctx context.Context) { got <- experimental.GetCompilationWorkers(ctx) }
	ctx := experimental.WithCompilationWorkers(context.Background(), 4)
	if _, err := rt.Load(ctx, wasmFile(t, "echo"), "echo.wasm"); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 1 {
		t.Fatalf("the host compiled with %d goroutines, want 1", n)
	}
}
