package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// buildSleeper builds the sleep plugin of lang (sleep/<lang>) into dir.
func buildSleeper(t *testing.T, lang, dir string) string { return buildCase(t, "sleep", lang, dir) }

// buildCase builds the plugin of lang in the directory kind (sleep/<lang>, kv/<lang>:
// sources <kind>.c and <kind>.ts, Rust crate <kind>_rust) into dir with the kit's
// toolchain and returns its path. A missing toolchain skips the test, or fails it under
// APFLOW_REQUIRE_KITS.
func buildCase(t *testing.T, kind, lang, dir string) string {
	t.Helper()
	out := filepath.Join(dir, kind+"_"+lang+".wasm")
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(abs, "..", "..")
	var cmd *exec.Cmd
	switch lang {
	case "go":
		cmd = exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./"+kind+"/go")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	case "c":
		cmd = exec.Command("clang", "--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Wextra", "-Werror",
			"-I", filepath.Join(root, "sdk", "c"), "-Wl,--strip-all", "-o", out,
			filepath.Join(kind, "c", kind+".c"), filepath.Join(root, "sdk", "c", "apflow.c"))
	case "rust":
		target := filepath.Join(dir, "cargo")
		cmd = exec.Command("/usr/bin/cargo", "build", "-q", "--offline", "--release", "--target", "wasm32-wasi",
			"--manifest-path", filepath.Join(kind, "rust", "Cargo.toml"))
		cmd.Env = append(os.Environ(), "RUSTC=/usr/bin/rustc", "CARGO_TARGET_DIR="+target)
		out = filepath.Join(target, "wasm32-wasi", "release", kind+"_rust.wasm")
	case "assemblyscript":
		// Compiled from its own directory, so that the kit's abort handler has the
		// module path it is imported under.
		kit := filepath.Join("..", "..", "..", "..", "sdk", "assemblyscript")
		cmd = exec.Command("node", filepath.Join(root, "sdk", "assemblyscript", "node_modules", "assemblyscript", "bin", "asc.js"),
			kind+".ts", "--outFile", out, "--optimize", "--use", "abort="+kit+"/assembly/host/abortHandler")
		cmd.Dir = filepath.Join(kind, "assemblyscript")
	}
	if _, err := exec.LookPath(cmd.Path); err != nil || lang == "assemblyscript" && !exists(cmd.Args[1]) {
		if os.Getenv("APFLOW_REQUIRE_KITS") != "" {
			t.Fatalf("toolchain for %s missing (make toolchains; npm ci in sdk/assemblyscript)", lang)
		}
		t.Skipf("toolchain for %s missing: see make toolchains (AssemblyScript: npm ci in sdk/assemblyscript)", lang)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s_%s: %v\n%s", kind, lang, err, b)
	}
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestKitsSleep runs each kit's sleep wrapper through the real host's sleep_ms: a
// granted sleep returns, an ungranted or negative one is refused with code
// sleep_refused, and a sleep cut short by the task's deadline or a cancel ends the task
// timed out or cancelled.
func TestKitsSleep(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("building four wasm plugins is slow; skipped with -short")
	}
	tests := []struct {
		name      string
		ms        int64
		clock     bool
		timeoutMS int64
		cancel    bool
		want      string // the result, the error code, or the error kind
	}{
		{name: "slept", ms: 10, clock: true, want: `{"slept":true}`},
		{name: "not granted", ms: 10, want: "sleep_refused"},
		{name: "negative", ms: -1, clock: true, want: "sleep_refused"},
		{name: "past the deadline", ms: 60000, clock: true, timeoutMS: 300, want: string(sandbox.KindTimeout)},
		{name: "cancelled", ms: 60000, clock: true, cancel: true, want: string(sandbox.KindCancelled)},
	}
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			wasm, err := os.ReadFile(buildSleeper(t, lang, t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var clock atomic.Bool
			rt, err := sandbox.New(ctx, sandbox.Config{Grants: func(string) sandbox.Grants {
				return sandbox.Grants{Clock: clock.Load()}
			}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rt.Close(ctx) })
			m, err := rt.Load(ctx, wasm, "sleep_"+lang+".wasm")
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			for _, tt := range tests { // in turn: they share the grants
				clock.Store(tt.clock)
				cctx, cancel := context.WithCancel(ctx)
				if tt.cancel {
					time.AfterFunc(200*time.Millisecond, cancel)
				}
				inputs, _ := json.Marshal(map[string]int64{"ms": tt.ms})
				resp, err := m.Execute(cctx, &executor.Request{Task: &task.Task{ID: "t"}, Inputs: inputs,
					Limits: task.Limits{TimeoutMS: tt.timeoutMS}})
				cancel()
				got := string(sandbox.KindOf(err))
				if err == nil {
					var res struct {
						Error *string `json:"error"`
						Code  string  `json:"code"`
					}
					_ = json.Unmarshal(resp.Output, &res)
					got = string(resp.Output)
					if res.Error != nil {
						got = res.Code
					}
				}
				if got != tt.want {
					t.Errorf("%s: got %s (err %v), want %s", tt.name, got, err, tt.want)
				}
				if tt.want == string(sandbox.KindTimeout) && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s: err = %v, want a timeout wrapping context.DeadlineExceeded", tt.name, err)
				}
			}
		})
	}
}
