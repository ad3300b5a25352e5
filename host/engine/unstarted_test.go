package engine

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestOnlyUnstarted: a Start with OnlyUnstarted runs a tree that never ran, and refuses
// (ErrStarted, nothing changed) a tree whose run ended, even with failed tasks that a
// plain Start would re-run.
func TestOnlyUnstarted(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "root"}, spec{id: "a", params: map[string]any{"fail": "boom"}})
	if res := v.run(root, RunOptions{OnlyUnstarted: true}); res.Status == "" {
		t.Fatalf("first run: %+v", res)
	}
	a := v.wantStatus("a", task.Failed)
	_, err := v.e.Start(context.Background(), root, RunOptions{OnlyUnstarted: true})
	if !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	if got := v.wantStatus("a", task.Failed); got.Attempts != a.Attempts {
		t.Fatalf("attempts %d, want %d: the refused Start ran the task", got.Attempts, a.Attempts)
	}
	// The tree is not left locked: a plain Start still re-runs the failed task.
	v.run(root, RunOptions{})
	if got := v.get("a"); got.Attempts != a.Attempts+1 {
		t.Fatalf("attempts after a plain re-run %d, want %d", got.Attempts, a.Attempts+1)
	}
}

// TestOnlyUnstartedConcurrent: of concurrent OnlyUnstarted Starts of a new tree, one
// runs it; every other one is refused, as already running or as started.
func TestOnlyUnstartedConcurrent(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "root"}, spec{id: "a", params: map[string]any{"fail": "boom"}})
	const n = 8
	var wg sync.WaitGroup
	runs := make(chan *Run, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := v.e.Start(context.Background(), root, RunOptions{OnlyUnstarted: true})
			if err == nil {
				runs <- r
				return
			}
			if !errors.Is(err, ErrStarted) && apferr.CodeOf(err) != apferr.AlreadyExecuting {
				t.Errorf("Start: %v", err)
			}
		}()
	}
	wg.Wait()
	close(runs)
	started := 0
	for r := range runs {
		<-r.Done()
		started++
	}
	if started != 1 {
		t.Fatalf("%d runs started, want 1", started)
	}
	if got := v.get("a"); got.Attempts != 1 {
		t.Fatalf("a attempted %d times, want 1", got.Attempts)
	}
}

// TestOnlyUnstartedScansTheTree: the check of OnlyUnstarted reads the tree from a store
// that scans trees one task at a time, never whole, both when it lets a run start and
// when it refuses one.
func TestOnlyUnstartedScansTheTree(t *testing.T) {
	t.Parallel()
	st := &treeReads{Store: memstore.New()}
	t.Cleanup(func() { _ = st.Close() })
	v := setupStore(t, st)
	root := v.create(spec{id: "root"}, spec{id: "a"})
	if res := v.run(root, RunOptions{OnlyUnstarted: true}); res.Status != task.Completed {
		t.Fatalf("first run: %+v", res)
	}
	scans := st.scans.Load()
	if _, err := v.e.Start(context.Background(), root, RunOptions{OnlyUnstarted: true}); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start = %v, want ErrStarted", err)
	}
	if n := st.trees.Load(); n != 0 {
		t.Errorf("the tree was read whole %d times, want 0", n)
	}
	if n := st.scans.Load(); n != scans+1 {
		t.Errorf("the refused Start scanned the tree %d times, want once", n-scans)
	}
}
