package api

import (
	"bytes"
	"context"
	"io"
	"sync/atomic"
	"testing"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// treeReading is a memstore that counts its reads of whole trees.
type treeReading struct {
	*memstore.Store
	trees, scans atomic.Int32
}

func (s *treeReading) Tree(ctx context.Context, treeID string) ([]*task.Task, error) {
	s.trees.Add(1)
	return s.Store.Tree(ctx, treeID)
}

func (s *treeReading) ScanTree(ctx context.Context, treeID string, fn func(*task.Task) error) error {
	s.scans.Add(1)
	return s.Store.ScanTree(ctx, treeID, fn)
}

// setupTreeReading is setup with the server's store read through a treeReading, and,
// withEngine, an engine of its own over it too.
func setupTreeReading(t *testing.T, withEngine bool) (*env, *treeReading) {
	t.Helper()
	var st *treeReading
	e := setup(t, setupOpts{mutate: func(cfg *Config) {
		st = &treeReading{Store: cfg.Store.(*memstore.Store)}
		cfg.Store = st
		if !withEngine {
			return
		}
		eng, err := engine.New(engine.Config{Store: st, Catalog: cfg.Catalog, Concurrency: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = eng.Close(context.Background()) })
		cfg.Engine = eng
	}})
	return e, st
}

// TestRunFiguresReadNoTree: the figures of a run (executor durations in /metrics) come
// from the engine as each call ends: the tree is neither read whole nor scanned for
// them.
func TestRunFiguresReadNoTree(t *testing.T) {
	t.Parallel()
	e, st := setupTreeReading(t, false)
	e.ok(t, "", "tasks.execute", map[string]any{"tasks": tree("m")}, nil)
	if n := st.trees.Load(); n != 0 {
		t.Errorf("the tree was read whole %d times, want 0", n)
	}
	if n := st.scans.Load(); n != 0 {
		t.Errorf("the tree was scanned %d times, want 0", n)
	}
	resp, err := e.http.Client().Get(e.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `apflow_executor_duration_seconds_count{executor="echo"} 3`; !bytes.Contains(b, []byte(want)) {
		t.Errorf("metrics lack %q:\n%s", want, b)
	}
}

// TestInlineExecuteRunsFromItsTree: tasks.execute of an inline tree, keyed or not,
// starts its run from the tree just stored (engine.RunOptions.Created): the run does not
// read the tree back. What scans it, keyed, is the check that no run of it started
// before (engine.RunOptions.OnlyUnstarted).
func TestInlineExecuteRunsFromItsTree(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		params    map[string]any
		wantScans int32
	}{
		{"plain", map[string]any{"tasks": tree("inl")}, 0},
		{"with an idempotency key", map[string]any{"tasks": tree("key"), "idempotency_key": "k"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, st := setupTreeReading(t, true)
			var out map[string]any
			e.ok(t, "", "tasks.execute", tt.params, &out)
			if out["status"] != "completed" {
				t.Fatalf("tasks.execute answered %v", out)
			}
			if n := st.scans.Load(); n != tt.wantScans {
				t.Errorf("the tree was scanned %d times, want %d", n, tt.wantScans)
			}
			if n := st.trees.Load(); n != 0 {
				t.Errorf("the tree was read whole %d times, want 0", n)
			}
		})
	}
}
