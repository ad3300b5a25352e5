package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// errWriteRefused is what failTaskStore answers for the task it refuses to write.
var errWriteRefused = errors.New("write refused")

// failTaskStore refuses every write that touches task id after the first okWrites of
// them (an Update of id, or an UpdateMany holding a mutation of id).
type failTaskStore struct {
	store.Store
	id       string
	okWrites int32
	n        atomic.Int32
}

func (f *failTaskStore) refuse() bool { return f.n.Add(1) > f.okWrites }

func (f *failTaskStore) Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	if id == f.id && f.refuse() {
		return nil, errWriteRefused
	}
	return f.Store.Update(ctx, id, fn)
}

func (f *failTaskStore) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	for _, m := range muts {
		if m.ID == f.id && f.refuse() {
			return nil, errWriteRefused
		}
	}
	return f.Store.UpdateMany(ctx, muts)
}

// TestCompletionWriteFailure: the write that completes "a" fails (its start succeeded).
// The run must end with the store error (not hang waiting for post-hooks that never
// run), and "a"'s dependent must never start: its dependency's completion was not
// committed (docs/semantics.md rule 17).
func TestCompletionWriteFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		hooks Hooks
	}{
		{"no hooks", nil},
		{"post hooks", &recHooks{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := &failTaskStore{Store: memStore(t), id: "a", okWrites: 1}
			var opts []option
			if tc.hooks != nil {
				opts = append(opts, withHooks(tc.hooks))
			}
			v := setupStore(t, fs, opts...)
			root := v.create(
				spec{id: "root"},
				spec{id: "a"},
				spec{id: "b", deps: req("a")},
			)
			run, err := v.e.Start(context.Background(), root, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantRefusedRun(t, v, run, "b", "a's completion")
		})
	}
}

// TestCancelWriteFailureIsReported: when the write that cancels a running task fails,
// Cancel says so (it must not report a cancellation that was never committed), and the
// run still ends: the executor is stopped and the run stops on the store failure.
func TestCancelWriteFailureIsReported(t *testing.T) {
	t.Parallel()
	fs := &failTaskStore{Store: memStore(t), id: "a", okWrites: 1}
	v := setupStore(t, fs)
	root := v.create(spec{id: "root"}, spec{id: "a", params: map[string]any{"block": true}})
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to execute", func() bool {
		v.cat.mu.Lock()
		defer v.cat.mu.Unlock()
		return v.cat.executions["a"] == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := v.e.Cancel(ctx, "a", ""); !errors.Is(err, errWriteRefused) {
		t.Fatalf("Cancel error = %v, want the refused write", err)
	}
	select {
	case <-run.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("run did not end after the failed cancel")
	}
	if !errors.Is(run.Result().Err, errWriteRefused) {
		t.Fatalf("run error = %v, want the refused write", run.Result().Err)
	}
}

// TestLargeFanIn runs 5,000 tasks into one aggregator: settling each dependency touches
// only its own dependency item (a scan of all items per settled dependency would make this
// 12.5 million steps).
func TestLargeFanIn(t *testing.T) {
	t.Parallel()
	const n = 5000
	v := setup(t)
	ids := make([]string, n)
	specs := make([]spec, 0, n+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("leaf-%05d", i)
	}
	specs = append(specs, spec{id: "fan-root", method: "aggregate_results_executor", deps: req(ids...)})
	for _, id := range ids {
		specs = append(specs, spec{id: id, parent: "fan-root"})
	}
	res := v.run(v.create(specs...), RunOptions{})
	if res.Status != task.Completed || res.Counts[task.Completed] != n+1 {
		t.Fatalf("fan-in run = %+v", res)
	}
	root := v.get("fan-root")
	out, _ := root.Result.(map[string]any)
	if got := fmt.Sprint(out["result_count"]); got != fmt.Sprint(n) {
		t.Fatalf("aggregator result_count = %s, want %d", got, n)
	}
}

// wantRefusedRun waits for run to end with failTaskStore's refused write, then checks
// that task id never executed and is still pending: what a write that failed before
// id's start must leave. what names the refused write in failure messages.
func wantRefusedRun(t *testing.T, v *env, run *Run, id, what string) {
	t.Helper()
	select {
	case <-run.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("run did not end after %s failed", what)
	}
	if !errors.Is(run.Result().Err, errWriteRefused) {
		t.Fatalf("run error = %v, want the refused write", run.Result().Err)
	}
	v.cat.mu.Lock()
	n := v.cat.executions[id]
	v.cat.mu.Unlock()
	if n != 0 {
		t.Fatalf("%s executed %d times although %s was never committed", id, n, what)
	}
	if got := v.get(id).Status; got != task.Pending {
		t.Fatalf("%s status = %s, want pending", id, got)
	}
}
