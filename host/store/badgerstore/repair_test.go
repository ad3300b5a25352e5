package badgerstore

import (
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestRepairIndex: a status entry left from another status (as a journal cut by hand
// can leave) lists the task under a status it does not have; RepairIndex deletes it and
// keeps the task's own entries.
func TestRepairIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := setup(t, Options{InMemory: true})
	if err := s.Create(ctx, []*task.Task{mk("a", "", 0), mk("b", "", 1)}); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	h := headerOf(stored)
	h.Status = task.InProgress // the entry of a newer state of a, whose value a cut journal brought back
	if err := s.submit(ctx, func(*badger.Txn) ([]write, error) {
		return []write{{key: statusKey(task.InProgress, h), value: h.encode()}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	ids := func(st task.Status) []string {
		t.Helper()
		page, _, err := s.List(ctx, store.Filter{Status: st})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tk := range page {
			out = append(out, tk.ID)
		}
		return out
	}
	if got := ids(task.InProgress); len(got) != 1 || got[0] != "a" {
		t.Fatalf("in_progress before the repair: %v, want the stale a", got)
	}
	if err := s.RepairIndex(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := ids(task.InProgress); len(got) != 0 {
		t.Errorf("in_progress after the repair: %v, want none", got)
	}
	if got := ids(task.Pending); len(got) != 2 {
		t.Errorf("pending after the repair: %v, want a and b", got)
	}
	if err := s.RepairIndex(ctx, "gone"); err == nil {
		t.Error("RepairIndex of a task that does not exist succeeded")
	}
}
