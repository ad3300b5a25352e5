package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// treeOnly hides memstore's ScanTree: a store read with Tree.
type treeOnly struct{ store.Store }

// counting is a memstore whose ScanTree counts the tasks it hands over.
type counting struct {
	*memstore.Store
	handed int
}

func (c *counting) ScanTree(ctx context.Context, treeID string, fn func(*task.Task) error) error {
	return c.Store.ScanTree(ctx, treeID, func(t *task.Task) error {
		c.handed++
		return fn(t)
	})
}

// TestEachTaskAndFirstTask: with a store that scans trees and with one that does not,
// EachTask hands over the tree in Tree's order and stops at fn's first error, and
// FirstTask names the first frozen task in that order, or none, and a scanning store
// hands over no task after it.
func TestEachTaskAndFirstTask(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, frozen ...int) *memstore.Store {
		t.Helper()
		st := memstore.New()
		t.Cleanup(func() { _ = st.Close() })
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		tasks := []*task.Task{{ID: "r", TaskTreeID: "r", Name: "r", Status: task.Pending, Priority: 2, CreatedAt: now}}
		for i := 1; i <= 4; i++ {
			tasks = append(tasks, &task.Task{ID: fmt.Sprintf("c%d", i), ParentID: "r", TaskTreeID: "r", Name: fmt.Sprintf("c%d", i),
				Status: task.Pending, Priority: 2, Seq: i, CreatedAt: now})
		}
		for _, i := range frozen {
			tasks[i].OriginType = task.OriginArchive
		}
		if err := st.Create(context.Background(), tasks); err != nil {
			t.Fatal(err)
		}
		return st
	}
	stores := map[string]func(*memstore.Store) store.Store{
		"scans":     func(s *memstore.Store) store.Store { return s },
		"tree only": func(s *memstore.Store) store.Store { return treeOnly{s} },
	}
	for name, wrap := range stores {
		st := wrap(setup(t, 3, 2))
		var seen []string
		stop := errors.New("stop here")
		err := store.EachTask(t.Context(), st, "r", func(tk *task.Task) error {
			seen = append(seen, tk.ID)
			if len(seen) == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || fmt.Sprint(seen) != "[r c1 c2]" {
			t.Errorf("%s: EachTask saw %v, returned %v; want [r c1 c2] and fn's error", name, seen, err)
		}
		if f, err := store.FirstTask(t.Context(), st, "r", (*task.Task).Frozen); err != nil || f == nil || f.ID != "c2" {
			t.Errorf("%s: FirstTask(Frozen) = %v, %v; want c2", name, f, err)
		}
		if f, err := store.FirstTask(t.Context(), wrap(setup(t)), "r", (*task.Task).Frozen); err != nil || f != nil {
			t.Errorf("%s: FirstTask(Frozen) of a tree without frozen tasks = %v, %v; want none", name, f, err)
		}
	}
	c := &counting{Store: setup(t, 2)}
	if f, err := store.FirstTask(t.Context(), c, "r", (*task.Task).Frozen); err != nil || f == nil || f.ID != "c2" || c.handed != 3 {
		t.Errorf("FirstTask(Frozen) = %v, %v after %d tasks; want c2, the third", f, err, c.handed)
	}
}
