package badgerstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// wideTree returns an aggregator: root "w" depending on n children, the shape whose
// root carries one dependents entry per child.
func wideTree(n int) []*task.Task {
	root := mk("w", "", 0)
	ts := []*task.Task{root}
	for i := range n {
		id := fmt.Sprintf("w%d", i)
		ts = append(ts, mk(id, "w", i+1))
		root.Dependencies = append(root.Dependencies, task.Dependency{ID: id, Required: true})
	}
	return ts
}

// TestWideTreeWrites runs the writes a run makes to the root of an aggregator wider than
// one transaction: each must be small, whatever the width of the tree.
func TestWideTreeWrites(t *testing.T) {
	t.Parallel()
	const n = 3000 // dependents entries: about twice what one transaction takes
	now := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		fn   func(*task.Task) error
	}{
		{"Start", func(x *task.Task) error { return x.Start(now) }},
		{"Cancel", func(x *task.Task) error { return x.Cancel("stop", now) }},
		{"RunMarker", func(x *task.Task) error { x.Run = &task.RunMarker{StartedAt: now}; return nil }},
		{"StartCompleteReset", func(x *task.Task) error {
			if err := x.Start(now); err != nil {
				return err
			}
			if err := x.Complete(map[string]any{"n": n}, now); err != nil {
				return err
			}
			return x.Reset(now)
		}},
	} {
		for _, mem := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/InMemory=%v", c.name, mem), func(t *testing.T) {
				t.Parallel()
				s := setup(t, Options{InMemory: mem, MemTableSize: 1 << 20})
				ctx := t.Context()
				if err := s.Create(ctx, wideTree(n)); err != nil {
					t.Fatal(err)
				}
				got, err := s.Update(ctx, "w", c.fn)
				if err != nil {
					t.Fatalf("Update of the root of %d: %v", n, err)
				}
				kids, err := s.Dependents(ctx, "w7")
				if err != nil || len(kids) != 1 || kids[0].Status != got.Status {
					t.Fatalf("Dependents(w7) = %v, %v; want the root, %s", kids, err, got.Status)
				}
				if m, err := s.Count(ctx, store.Filter{Status: got.Status, RootOnly: true}); err != nil || m != 1 {
					t.Fatalf("roots %s: %d, %v", got.Status, m, err)
				}
				checkIndexes(t, s)
			})
		}
	}
}
