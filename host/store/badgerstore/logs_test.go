package badgerstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// logKeys returns the lengths of task id's log head (-1 without one) and how many line
// keys it has.
func logKeys(tb testing.TB, s *Store, id string) (head, lines int) {
	tb.Helper()
	head = -1
	err := s.db.View(func(txn *badger.Txn) error {
		switch item, err := txn.Get(logHeadKey(id)); {
		case err == nil:
			head = int(item.ValueSize())
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return head, countKeys(tb, s, logTaskPrefix(id))
}

// readAllLogs reads task id's lines a few at a time, checking each page's more.
func readAllLogs(tb testing.TB, s *Store, id string) []store.LogLine {
	tb.Helper()
	var out []store.LogLine
	after := int64(0)
	for {
		page, more, err := s.Logs(tb.Context(), id, after, 3)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, page...)
		if !more {
			return out
		}
		if len(page) != 3 {
			tb.Fatalf("a page of %d lines with more to read, want 3", len(page))
		}
		after = page[len(page)-1].Seq
	}
}

// checkLogs fails unless task id's lines are want, numbered from first on, and its head
// counts them and their bytes.
func checkLogs(tb testing.TB, s *Store, id string, first int64, want []string) {
	tb.Helper()
	var h logHead
	if err := s.db.View(func(txn *badger.Txn) (err error) { h, err = readLogHead(txn, id); return err }); err != nil {
		tb.Fatal(err)
	}
	size := int64(0)
	for _, m := range want {
		size += int64(len(m))
	}
	if h.lines != int64(len(want)) || h.bytes != size || h.first() != first {
		tb.Fatalf("head of %s: %d lines of %d bytes from seq %d; want %d of %d from %d", id, h.lines, h.bytes, h.first(), len(want), size, first)
	}
	got := readAllLogs(tb, s, id)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Message == want[i] && got[i].Seq == first+int64(i) && got[i].Level == "info"
	}
	if !ok {
		var have []string
		for _, l := range got {
			have = append(have, fmt.Sprintf("%d:%.12s", l.Seq, l.Message))
		}
		tb.Fatalf("lines of %s: %v; want %d lines from seq %d", id, have, len(want), first)
	}
}

// TestLogHeadHoldsShortLogs: a task's lines stay in its head, one entry, while the head
// stays under logInlineMax (in memory, whose value threshold is larger); then every kept
// line is spilled to a key of its own and the head holds the numbers alone. Either way
// the lines read, page and trim the same.
func TestLogHeadHoldsShortLogs(t *testing.T) {
	t.Parallel()
	msg := func(i int) string { return fmt.Sprintf("line %03d %s", i, strings.Repeat("x", 90)) } // 193 bytes in a head: five fit
	tests := []struct {
		name        string
		appends     []int // lines an append
		bounds      store.LogBounds
		wantSpilled bool
		wantFirst   int64
	}{
		{"one line", []int{1}, store.LogBounds{MaxLines: 100, MaxBytes: 1 << 20}, false, 1},
		{"five lines, one at a time", []int{1, 1, 1, 1, 1}, store.LogBounds{MaxLines: 100, MaxBytes: 1 << 20}, false, 1},
		{"six lines spill", []int{1, 1, 1, 1, 1, 1}, store.LogBounds{MaxLines: 100, MaxBytes: 1 << 20}, true, 1},
		{"six lines in one append", []int{6}, store.LogBounds{MaxLines: 100, MaxBytes: 1 << 20}, true, 1},
		{"trimmed in the head", []int{2, 2, 2}, store.LogBounds{MaxLines: 3, MaxBytes: 1 << 20}, false, 4},
		{"trimmed by bytes in the head", []int{1, 1, 1, 1}, store.LogBounds{MaxLines: 100, MaxBytes: 250}, false, 3},
		{"an append over the bounds alone", []int{1, 4}, store.LogBounds{MaxLines: 2, MaxBytes: 1 << 20}, false, 4},
		{"spilled, then trimmed", []int{6, 6, 6}, store.LogBounds{MaxLines: 8, MaxBytes: 1 << 20}, true, 11},
		{"trimmed before it would spill", []int{6}, store.LogBounds{MaxLines: 5, MaxBytes: 1 << 20}, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, Options{InMemory: true})
			var all []string
			for _, n := range tc.appends {
				var lines []store.LogLine
				for range n {
					all = append(all, msg(len(all)+1))
					lines = append(lines, store.LogLine{Message: all[len(all)-1], Level: "info"})
				}
				if _, err := s.AppendLogs(t.Context(), "a", lines, tc.bounds); err != nil {
					t.Fatal(err)
				}
			}
			checkLogs(t, s, "a", tc.wantFirst, all[tc.wantFirst-1:])
			head, lineKeys := logKeys(t, s, "a")
			kept := len(all) - int(tc.wantFirst) + 1
			if tc.wantSpilled && (head != 24 || lineKeys != kept) || !tc.wantSpilled && (head <= 24 || lineKeys != 0) {
				t.Errorf("a head of %d bytes and %d line keys for %d lines kept; want them spilled: %v", head, lineKeys, kept, tc.wantSpilled)
			}
		})
	}
}

// TestLogHeadStaysUnderTheValueThreshold: on disk a head holds its lines only while it
// stays under the value threshold, in the LSM tree: at the default 512 bytes, two lines
// of 198 bytes of JSON (a head of 426 bytes), not three (627).
func TestLogHeadStaysUnderTheValueThreshold(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{Dir: t.TempDir()})
	b := store.LogBounds{MaxLines: 100, MaxBytes: 1 << 20}
	var all []string
	for i, want := range []struct{ head, lines int }{{-2, 0}, {-2, 0}, {24, 3}} {
		all = append(all, fmt.Sprintf("line %d %s", i+1, strings.Repeat("x", 100)))
		if _, err := s.AppendLogs(t.Context(), "a", []store.LogLine{{Message: all[i], Level: "info"}}, b); err != nil {
			t.Fatal(err)
		}
		head, lines := logKeys(t, s, "a")
		if want.head > 0 && head != want.head || want.head < 0 && (head <= 24 || head >= int(DefaultValueThreshold)) || lines != want.lines {
			t.Errorf("after %d lines: a head of %d bytes and %d line keys", i+1, head, lines)
		}
		checkLogs(t, s, "a", 1, all)
	}
}

// TestLogsOfAnEarlierFormat: heads of 24 bytes with their lines under keys of their own,
// as earlier versions wrote every log, read and take appends as spilled ones; a head of
// such a log whose lines were all trimmed takes its next lines inline.
func TestLogsOfAnEarlierFormat(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := setup(t, Options{InMemory: true})
	b := store.LogBounds{MaxLines: 4, MaxBytes: 1 << 20}
	line := func(m string) []byte {
		v, err := json.Marshal(store.LogLine{Message: m, Level: "info"})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Task "old": lines 2 and 3 kept (1 trimmed); task "empty": 4 lines, all trimmed;
	// "drifted" and "drifted empty": counts of bytes below what they keep, as earlier
	// builds left after trimming a line that was not valid UTF-8.
	ws := []write{
		{key: logLineKey("old", 2), value: line("two")},
		{key: logLineKey("old", 3), value: line("three")},
		{key: logHeadKey("old"), value: logHead{next: 4, lines: 2, bytes: 8}.encode()},
		{key: logHeadKey("empty"), value: logHead{next: 5}.encode()},
		{key: logLineKey("drifted", 1), value: line("one")},
		{key: logHeadKey("drifted"), value: logHead{next: 2, lines: 1, bytes: -798}.encode()},
		{key: logHeadKey("drifted empty"), value: logHead{next: 3, bytes: 5}.encode()},
	}
	if err := s.submit(ctx, func(*badger.Txn) ([]write, error) { return ws, nil }); err != nil {
		t.Fatal(err)
	}
	checkLogs(t, s, "old", 2, []string{"two", "three"})
	for _, m := range []string{"four", "five", "six"} {
		if _, err := s.AppendLogs(ctx, "old", []store.LogLine{{Message: m, Level: "info"}}, b); err != nil {
			t.Fatal(err)
		}
	}
	checkLogs(t, s, "old", 3, []string{"three", "four", "five", "six"})
	if head, lines := logKeys(t, s, "old"); head != 24 || lines != 4 {
		t.Errorf("task old: a head of %d bytes and %d line keys, want 24 and 4", head, lines)
	}
	if _, err := s.AppendLogs(ctx, "empty", []store.LogLine{{Message: "five", Level: "info"}}, b); err != nil {
		t.Fatal(err)
	}
	checkLogs(t, s, "empty", 5, []string{"five"})
	if head, lines := logKeys(t, s, "empty"); head <= 24 || lines != 0 {
		t.Errorf("task empty: a head of %d bytes and %d line keys, want its line inline", head, lines)
	}
	for _, id := range []string{"drifted", "drifted empty"} {
		var h logHead
		if err := s.db.View(func(txn *badger.Txn) (err error) { h, err = readLogHead(txn, id); return err }); err != nil || h.bytes != 0 {
			t.Fatalf("task %s: a head counting %d bytes (%v), want 0", id, h.bytes, err)
		}
		if _, err := s.AppendLogs(ctx, id, []store.LogLine{{Message: "ok", Level: "info"}}, store.LogBounds{MaxLines: 1, MaxBytes: 100}); err != nil {
			t.Fatalf("task %s: %v", id, err)
		}
		if lines := readAllLogs(t, s, id); len(lines) != 1 || lines[0].Message != "ok" {
			t.Errorf("task %s: lines %+v, want the one appended", id, lines)
		}
	}
}

// TestLogsSkipWhatAnEarlierTaskLeft: lines a deleted task of the same id left (not yet
// reclaimed) are never read as the new task's, inline or spilled, below its first kept
// line or from its next on.
func TestLogsSkipWhatAnEarlierTaskLeft(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := setup(t, Options{InMemory: true})
	var ws []write
	for seq := int64(1); seq <= 6; seq++ {
		v, err := json.Marshal(store.LogLine{Message: fmt.Sprintf("stale %d", seq), Level: "info"})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, write{key: logLineKey("p", seq), value: v})
	}
	if err := s.submit(ctx, func(*badger.Txn) ([]write, error) { return ws, nil }); err != nil {
		t.Fatal(err)
	}
	b := store.LogBounds{MaxLines: 2, MaxBytes: 1 << 20}
	appendOne := func(m string) {
		if _, err := s.AppendLogs(ctx, "p", []store.LogLine{{Message: m, Level: "info"}}, b); err != nil {
			t.Fatal(err)
		}
	}
	appendOne("new 1")
	checkLogs(t, s, "p", 1, []string{"new 1"})
	appendOne("new 2")
	big := strings.Repeat("y", 600) // two spill the head
	appendOne(big + " 3")           // line 1 trimmed inline: the first kept is 2
	checkLogs(t, s, "p", 2, []string{"new 2", big + " 3"})
	appendOne(big + " 4") // spilled from line 3 on
	checkLogs(t, s, "p", 3, []string{big + " 3", big + " 4"})
	if head, lines := logKeys(t, s, "p"); head != 24 || lines != 6 {
		t.Fatalf("a head of %d bytes and %d line keys, want 24 and the 6 of both tasks", head, lines)
	}
	appendOne("new 5") // trims line 3, not the earlier task's line 1
	checkLogs(t, s, "p", 4, []string{big + " 4", "new 5"})
}

// FuzzLogHead: any stored head either decodes or is refused with an error, and one that
// decodes encodes to a value that decodes to the same head.
func FuzzLogHead(f *testing.F) {
	f.Add(logHead{next: 1}.encode())
	f.Add(logHead{next: 9, lines: 3, bytes: 30}.encode())
	f.Add(logHead{next: 3, lines: 2, bytes: 7, inline: []inlineLine{{3, []byte(`{"message":"abc"}`)}, {4, []byte(`{}`)}}}.encode())
	f.Fuzz(func(t *testing.T, v []byte) {
		h, err := decodeLogHead("f", v)
		if err != nil {
			return
		}
		again, err := decodeLogHead("f", h.encode())
		if err != nil {
			t.Fatalf("a decoded head %+v encodes to one that does not decode: %v", h, err)
		}
		if !h.spilled() { // an append to it leaves a head that decodes
			ws := appendInline("f", h, []store.LogLine{{Message: "x"}}, [][]byte{[]byte(`{"message":"x"}`)}, store.LogBounds{MaxLines: 3, MaxBytes: 1 << 20}, 1<<20)
			if _, err := decodeLogHead("f", ws[len(ws)-1].value); err != nil {
				t.Fatalf("an append to head %+v leaves one that does not decode: %v", h, err)
			}
		}
		same := again.next == h.next && again.lines == h.lines && again.bytes == h.bytes && again.spilled() == h.spilled() && len(again.inline) == len(h.inline)
		for i := 0; same && i < len(h.inline); i++ {
			same = again.inline[i].size == h.inline[i].size && bytes.Equal(again.inline[i].json, h.inline[i].json)
		}
		if !same {
			t.Fatalf("head %+v decodes again as %+v", h, again)
		}
	})
}
