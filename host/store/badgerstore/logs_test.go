package badgerstore

import (
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/storetest"
)

func TestLogsConformance(t *testing.T) {
	t.Parallel()
	onDiskAndInMemory(t, func(t *testing.T, newStore func(*testing.T) *Store) { storetest.RunLogs(t, newStore) })
}

func TestQueuedLogsConformance(t *testing.T) {
	t.Parallel()
	onDiskAndInMemory(t, func(t *testing.T, newStore func(*testing.T) *Store) { storetest.RunQueuedLogs(t, newStore) })
}

// TestLogsSurviveReopen: lines and the next Seq are on disk.
func TestLogsSurviveReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := store.LogBounds{MaxLines: 2, MaxBytes: 100}
	for i, msg := range []string{"one", "two", "three"} {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendLogs(t.Context(), "a", []store.LogLine{{Message: msg, Level: "info"}}, b); err != nil {
			t.Fatal(err)
		}
		lines, _, err := s.Logs(t.Context(), "a", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if last := lines[len(lines)-1]; last.Seq != int64(i+1) || last.Message != msg || len(lines) != min(i+1, 2) {
			t.Fatalf("after reopen %d: lines %+v", i, lines)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueueLogsJobs: the appends of one QueueLogs call are as few committer jobs as
// fit half a transaction each and never hold two appends of one task, each job a commit
// of its own size rather than a write too big for one transaction (committed in chunks).
func TestQueueLogsJobs(t *testing.T) {
	t.Parallel()
	line := func(i int) store.LogLine { return store.LogLine{Message: fmt.Sprintf("line %d", i), Level: "info"} }
	lines := func(n int) []store.LogLine {
		out := make([]store.LogLine, n)
		for i := range out {
			out[i] = line(i)
		}
		return out
	}
	for _, c := range []struct {
		name     string
		appends  []store.LogAppend
		minJobs  int
		maxJobs  int
		wantLogs map[string]int // lines stored by task
	}{
		{"one small job", []store.LogAppend{{TaskID: "a", Lines: lines(1)}, {TaskID: "b", Lines: lines(2)}}, 1, 1,
			map[string]int{"a": 1, "b": 2}},
		{"a task twice", []store.LogAppend{{TaskID: "a", Lines: lines(1)}, {TaskID: "b", Lines: lines(1)}, {TaskID: "a", Lines: lines(1)}}, 2, 2,
			map[string]int{"a": 2, "b": 1}},
		{"more than half a transaction", func() []store.LogAppend {
			var out []store.LogAppend
			for i := range 64 {
				out = append(out, store.LogAppend{TaskID: fmt.Sprintf("t%d", i), Lines: lines(150)})
			}
			return out
		}(), 3, 8, map[string]int{"t0": 150, "t63": 150}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, Options{})
			batches, jobs := s.c.batches.Load(), s.c.jobs.Load()
			for i, out := range s.QueueLogs(t.Context(), c.appends, store.LogBounds{MaxLines: 1000, MaxBytes: 1 << 20})() {
				if out.Err != nil {
					t.Fatalf("append %d: %v", i, out.Err)
				}
			}
			// A write too big for a transaction counts one job and one commit however
			// many chunks it takes; jobs that fit count one each and may share commits.
			gotJobs, gotBatches := s.c.jobs.Load()-jobs, s.c.batches.Load()-batches
			if gotJobs < int64(c.minJobs) || gotJobs > int64(c.maxJobs) || gotBatches > gotJobs {
				t.Fatalf("%d jobs in %d commits, want %d..%d jobs", gotJobs, gotBatches, c.minJobs, c.maxJobs)
			}
			for id, n := range c.wantLogs {
				got, _, err := s.Logs(t.Context(), id, 0, 1000)
				if err != nil || len(got) != n || got[n-1].Seq != int64(n) {
					t.Fatalf("lines of %s: %d, %v; want %d", id, len(got), err, n)
				}
			}
		})
	}
}

// TestDeleteTakesLogRoomBack: Delete deletes the tasks' log lines and heads, not only
// what makes them none.
func TestDeleteTakesLogRoomBack(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	gone := loggedTasks(t, s, "gone", 1)[0]
	if err := s.Delete(t.Context(), []string{gone}); err != nil {
		t.Fatal(err)
	}
	var left []string
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for _, p := range [][]byte{logTaskPrefix(gone), logHeadKey(gone)} {
			for it.Seek(p); it.ValidForPrefix(p); it.Next() {
				left = append(left, fmt.Sprintf("%q", it.Item().Key()))
			}
		}
		return nil
	})
	if err != nil || len(left) != 0 {
		t.Fatalf("keys left after Delete: %v (%v)", left, err)
	}
}

// TestReclaimSkipsAnIDTakenAgain: the reclaim after a Delete's commit leaves the lines of
// an id a task was created with again in between: they are that task's.
func TestReclaimSkipsAnIDTakenAgain(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	again := loggedTasks(t, s, "again", 1)[0]
	// As if a Delete of an earlier task of this id had committed before this task's
	// create and reclaimed its room only now.
	if err := s.reclaimLogs(t.Context(), []string{again}); err != nil {
		t.Fatal(err)
	}
	lines, _, err := s.Logs(t.Context(), again, 0, 10)
	if err != nil || len(lines) != 1 || lines[0].Message != "line" || lines[0].Seq != 1 {
		t.Fatalf("lines of the task created again: %+v (%v), want its own line, seq 1", lines, err)
	}
}

// loggedTasks creates n tasks (storetest.BenchTasks) that logged a line each and returns
// their ids.
func loggedTasks(tb testing.TB, s *Store, prefix string, n int) []string {
	tb.Helper()
	ts := storetest.BenchTasks(prefix, n)
	if err := s.Create(tb.Context(), ts); err != nil {
		tb.Fatal(err)
	}
	ids := make([]string, n)
	appends := make([]store.LogAppend, n)
	for i, x := range ts {
		ids[i] = x.ID
		appends[i] = store.LogAppend{TaskID: x.ID, Lines: []store.LogLine{{Message: "line", Level: "info"}}}
	}
	for _, out := range s.QueueLogs(tb.Context(), appends, store.LogBounds{MaxLines: 10, MaxBytes: 1 << 20})() {
		if out.Err != nil {
			tb.Fatal(out.Err)
		}
	}
	return ids
}

// TestReclaimTakesFewCommits: the room of deleted tasks' lines is taken back in commits
// of many tasks, not in one commit a task (a sync each).
func TestReclaimTakesFewCommits(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	ids := loggedTasks(t, s, "few", 500)
	before := s.c.batches.Load()
	if err := s.Delete(t.Context(), ids); err != nil {
		t.Fatal(err)
	}
	if commits := s.c.batches.Load() - before; commits > 3 {
		t.Errorf("Delete of 500 tasks with lines took %d commits, want the Delete's and a few for the lines", commits)
	}
	for _, id := range []string{ids[0], ids[499]} {
		if lines, _, err := s.Logs(t.Context(), id, 0, 10); err != nil || len(lines) != 0 {
			t.Errorf("lines of deleted task %s: %v (%v)", id, lines, err)
		}
	}
}
