package badgerstore

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestStatusChangeWrites: a status change writes the task, moves its status entry and
// rewrites its entries in the other indexes that carry the status (tree, user), and
// nothing else, whatever indexes the task is in.
func TestStatusChangeWrites(t *testing.T) {
	t.Parallel()
	child := mk("c", "root", 2)
	child.UserID = "alice"
	child.Dependencies = []task.Dependency{{ID: "b", Required: true}}
	aggregator := mk("agg", "root", 3)
	for i := range 1000 {
		aggregator.Dependencies = append(aggregator.Dependencies, task.Dependency{ID: fmt.Sprintf("w%d", i)})
	}
	now := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		task *task.Task
		want []string
	}{
		{"a root", mk("root", "", 1), []string{"g del=false", "s del=false", "s del=true", "t del=false"}},
		{"a child with a user and a dependency", child, []string{"g del=false", "s del=false", "s del=true", "t del=false", "u del=false"}},
		{"an aggregator of 1,000", aggregator, []string{"g del=false", "s del=false", "s del=true", "t del=false"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, step := range []func(*task.Task) error{
				func(x *task.Task) error { return x.Start(now) },
				func(x *task.Task) error { return x.Complete(map[string]any{"ok": true}, now) },
			} {
				next := c.task.Clone()
				if err := step(next); err != nil {
					t.Fatal(err)
				}
				enc, err := encode(next)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, w := range diff(indexEntries(c.task), enc) {
					got = append(got, fmt.Sprintf("%c del=%v", w.key[0], w.del))
				}
				slices.Sort(got)
				if !slices.Equal(got, c.want) {
					t.Fatalf("%s → %s writes %v, want %v", c.task.Status, next.Status, got, c.want)
				}
				c.task = next
			}
		})
	}
}

// TestStatusFilterOnEarlierEntries: entries written when every index entry carried the
// status keep the status of that time, since a status change no longer rewrites them; a
// status filter over another index still answers from the status index.
func TestStatusFilterOnEarlierEntries(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{})
	ctx := t.Context()
	if err := s.Create(ctx, []*task.Task{mk("root", "", 1), mk("a", "root", 2), mk("b", "root", 3)}); err != nil {
		t.Fatal(err)
	}
	// Rewrite a's entries as the earlier format stored them, status included.
	withStatus := headerOf(mk("a", "root", 2)).encode()
	err := s.db.Update(func(txn *badger.Txn) error {
		for k := range indexEntries(mk("a", "root", 2)) {
			if err := txn.Set([]byte(k), withStatus); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "a", func(x *task.Task) error { return x.Start(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    store.Filter
		want []string
	}{
		{store.Filter{TreeID: "tree", Status: task.Pending}, []string{"b", "root"}},
		{store.Filter{TreeID: "tree", Status: task.InProgress}, []string{"a"}},
		{store.Filter{ParentID: "root", Status: task.Pending}, []string{"b"}},
		{store.Filter{ParentID: "root", Status: task.InProgress}, []string{"a"}},
		{store.Filter{Status: task.InProgress}, []string{"a"}},
		{store.Filter{Status: task.InProgress, RootOnly: true}, nil},
	} {
		page, total, err := s.List(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range page {
			got = append(got, x.ID)
		}
		if !slices.Equal(got, c.want) || total != len(c.want) {
			t.Errorf("List(%+v) = %v (total %d), want %v", c.f, got, total, c.want)
		}
	}
}
