package badgerstore

import (
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestSearchOnEntriesWithoutNames: index entries written before headers carried the
// name and the executor still match a search (the task is decoded), and new entries
// carry them.
func TestSearchOnEntriesWithoutNames(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{})
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	mk := func(id, name string) *task.Task {
		return &task.Task{ID: id, TaskTreeID: id, Name: name, Status: task.Pending, Priority: 2, CreatedAt: at,
			Schemas: map[string]any{"method": "echo"}}
	}
	for _, x := range []*task.Task{mk("old", "Nightly Old"), mk("new", "nightly new")} {
		if err := s.Create(t.Context(), []*task.Task{x}); err != nil {
			t.Fatal(err)
		}
	}
	// Rewrite every index entry of "old" (it has no dependencies, so every entry holds
	// its whole header) as the earlier format wrote it: without name and executor.
	h := headerOf(mk("old", "Nightly Old"))
	earlier := appendAsc(appendAsc(nil, h.Created), h.Seq)
	for _, str := range []string{h.ID, string(h.Status), h.UserID, h.TreeID, h.ParentID} {
		earlier = appendString(earlier, str)
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, e := range indexEntries(mk("old", "Nightly Old")) {
			if err := txn.Set(e.key, earlier); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeHeader(earlier); err != nil || got.Named {
		t.Fatalf("an earlier entry decodes as %+v, %v; want not Named", got, err)
	}
	for _, f := range []store.Filter{
		{Name: "NIGHTLY", RootOnly: true},
		{Method: "echo", Status: task.Pending},
	} {
		page, total, err := s.List(t.Context(), f)
		if err != nil || total != 2 || len(page) != 2 {
			t.Fatalf("List(%+v) = %d tasks of %d, %v; want both", f, len(page), total, err)
		}
	}
	if page, total, err := s.List(t.Context(), store.Filter{Name: "old", RootOnly: true}); err != nil || total != 1 || page[0].ID != "old" {
		t.Fatalf("search by id: %v, %d, %v", page, total, err)
	}
}
