package pgstore

import (
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestSettledFeedMissesNoEntryCommittedLate: feed seqs are taken when a row is
// inserted, not when its transaction commits, so a reader that kept a cursor (seq >
// last) skipped an entry that committed after a later one was read (two nodes finishing
// tasks of one tree at once): the coordinator waited forever for a completed task. The
// feed is read whole instead (ReadSettled), entries deleted only once acknowledged: a
// late entry is read by a later call.
func TestSettledFeedMissesNoEntryCommittedLate(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, time.Minute)
	create(t, sa, mk("root", "", 0), mk("x", "root", 1), mk("y", "root", 2))
	queue(t, a, "y")
	cb, err := b.Claim(t.Context(), 1)
	if err != nil || len(cb) != 1 {
		t.Fatal(cb, err)
	}

	// A slow writer of x's feed entry: it has taken its seq and not committed yet (as a
	// Finish whose COMMIT is still on its way).
	slow, err := sa.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Rollback(t.Context()) }()
	if _, err := slow.Exec(t.Context(), "INSERT INTO apflow_settled (tree_id, task_id) VALUES ('tree', 'x')"); err != nil {
		t.Fatal(err)
	}
	// Meanwhile y's Finish commits, and the coordinator reads the feed.
	complete := func(t *task.Task) error { return t.Complete(map[string]any{}, time.Now()) }
	if _, err := b.Finish(t.Context(), cb[0], complete); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	feed, err := a.ReadSettled(t.Context(), "tree")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range feed {
		seen[s.Task.ID] = true
	}
	// x's entry commits; the coordinator reads on.
	if err := slow.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	feed, err = a.ReadSettled(t.Context(), "tree")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range feed {
		seen[s.Task.ID] = true
	}
	if !seen["x"] || !seen["y"] {
		t.Fatalf("the coordinator reading the feed in order saw %v; want x and y", seen)
	}
}
