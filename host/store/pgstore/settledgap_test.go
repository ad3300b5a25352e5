package pgstore

import (
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestSettledFeedMissesNoEntryCommittedLate: the settled feed is read by seq (a
// bigserial), but seqs are taken when a row is inserted, not when its transaction
// commits. A Finish that took seq s1 and commits after another Finish that took s2 > s1
// (two nodes finishing tasks of one tree at once) becomes visible after the coordinator
// already read s2 and moved past it: SettledAfter(tree, s2) never returns s1, and the
// coordinator waits forever for a task that is completed (seen in
// cmd/apflow TestClusterSharesAWideTree: all 300 children completed, the root never
// queued, the tree lease renewed by a live coordinator).
func TestSettledFeedMissesNoEntryCommittedLate(t *testing.T) {
	t.Skip("pgstore bug: the settled feed loses an entry whose transaction commits after a later seq was read (SettledAfter reads seq > last); the lead fixes it")
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
	feed, err := a.SettledAfter(t.Context(), "tree", 0)
	if err != nil {
		t.Fatal(err)
	}
	last := int64(0)
	for _, s := range feed {
		seen[s.Task.ID], last = true, s.Seq
	}
	// x's entry commits; the coordinator reads on from where it was.
	if err := slow.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	feed, err = a.SettledAfter(t.Context(), "tree", last)
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
