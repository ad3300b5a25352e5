package conformance_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestKitsSpinStopped runs each kit's spin plugin, which never returns, through the real
// host: a loop and a call tree of 2^60 calls that never grows deep are both stopped by
// the interrupt checks of the module rewrite at the task's deadline (a timeout) and when
// the caller cancels (cancelled), whatever the language compiled them to.
func TestKitsSpinStopped(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("building four wasm plugins is slow; skipped with -short")
	}
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			wasm, err := os.ReadFile(buildCase(t, "spin", lang, t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			rt, err := sandbox.New(ctx, sandbox.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rt.Close(ctx) })
			m, err := rt.Load(ctx, wasm, "spin_"+lang+".wasm")
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			for _, mode := range []string{"loop", "tree"} {
				for _, stop := range []string{"timeout", "cancel"} {
					cctx, cancel := context.WithCancel(ctx)
					limits := task.Limits{}
					want := sandbox.KindCancelled
					if stop == "timeout" {
						limits.TimeoutMS, want = 200, sandbox.KindTimeout
					} else {
						time.AfterFunc(200*time.Millisecond, cancel)
					}
					done := make(chan error, 1)
					go func() {
						_, err := m.Execute(cctx, &executor.Request{Task: &task.Task{ID: "t"},
							Inputs: []byte(`{"mode":"` + mode + `"}`), Limits: limits})
						done <- err
					}()
					select {
					case err = <-done:
					case <-time.After(30 * time.Second): // a hang detector, not a timing assertion
						t.Fatalf("%s %s: still running 30s after it should have stopped", mode, stop)
					}
					cancel()
					if sandbox.KindOf(err) != want {
						t.Errorf("%s %s: err = %v, want kind %s", mode, stop, err, want)
					}
					if want == sandbox.KindTimeout && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%s %s: err = %v, want it to wrap context.DeadlineExceeded", mode, stop, err)
					}
				}
			}
			if s := m.Stats(); s.Idle != 0 || s.Reused != 0 {
				t.Errorf("an interrupted instance was kept: %+v", s)
			}
		})
	}
}
