package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// QueuedLogStore is a task store that queues log appends ahead of later writes.
type QueuedLogStore interface {
	store.Store
	store.QueuedLogs
}

// RunQueuedLogs runs the conformance suite of store.QueuedLogs. newStore must return a
// new, empty store for each call; RunQueuedLogs closes it when the subtest ends.
func RunQueuedLogs[S QueuedLogStore](t *testing.T, newStore func(t *testing.T) S) {
	runSuite(t, func(t *testing.T) QueuedLogStore { return newStore(t) }, queuedLogCases)
}

var queuedLogCases = []storeCase[QueuedLogStore]{
	{"LaterWriteCommitsAfter", testQueuedLogsOrder},
	{"AsAppend", testQueuedLogsAsAppend},
	{"SeveralAppends", testQueuedLogsSeveral},
	{"ManyAppends", testQueuedLogsMany},
}

// queueOne queues one append of lines to id's log and returns what waits for it.
func queueOne(s QueuedLogStore, t *testing.T, id string, lines []store.LogLine, b store.LogBounds) func() (int64, error) {
	wait := s.QueueLogs(ctx(t), []store.LogAppend{{TaskID: id, Lines: lines}}, b)
	return func() (int64, error) {
		out := wait()
		if len(out) != 1 {
			t.Fatalf("one append queued, %d outcomes", len(out))
		}
		return out[0].First, out[0].Err
	}
}

// testQueuedLogsOrder: once a write called after QueueLogs returns, the queued lines
// are stored, whether or not their wait was called.
func testQueuedLogsOrder(t *testing.T, s QueuedLogStore) {
	if err := s.Create(ctx(t), []*task.Task{mk("q", "", 0)}); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		var waits []func() (int64, error)
		for i := range 3 {
			waits = append(waits, queueOne(s, t, "q", logLines(round, "a", "b")[i%2:], logBounds))
		}
		update := func() {
			if _, err := s.Update(ctx(t), "q", func(x *task.Task) error { x.Progress = float64(round) / 20; return nil }); err != nil {
				t.Error(err)
			}
		}
		if round%2 == 0 {
			update() // right away
		} else {
			var wg sync.WaitGroup
			for range 4 { // concurrent writers share the queue
				wg.Go(update)
			}
			wg.Wait()
		}
		if n := len(logRead(t, s, "q", 0)); n != 5*(round+1) {
			t.Fatalf("round %d: %d lines stored after the later writes, want %d", round, n, 5*(round+1))
		}
		for _, w := range waits {
			if _, err := w(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// testQueuedLogsAsAppend: a queued append assigns Seqs, trims and checks as AppendLogs.
func testQueuedLogsAsAppend(t *testing.T, s QueuedLogStore) {
	if first, err := queueOne(s, t, "a", logLines(1, "1", "2"), logBounds)(); err != nil || first != 1 {
		t.Fatalf("first queued append = %d, %v; want Seq 1", first, err)
	}
	logAppendAt(t, s, "a", logBounds, logLines(1, "3"), 3)
	if first, err := queueOne(s, t, "a", logLines(1, "4", "5"), store.LogBounds{MaxLines: 3, MaxBytes: 1 << 20})(); err != nil || first != 4 {
		t.Fatalf("queued append = %d, %v; want Seq 4", first, err)
	}
	logWant(t, logRead(t, s, "a", 0), 3, "3", "4", "5")
	if _, err := queueOne(s, t, "a", logLines(1, "x"), store.LogBounds{})(); err == nil {
		t.Fatal("a queued append with zero bounds succeeded")
	}
	if _, err := queueOne(s, t, "", logLines(1, "x"), logBounds)(); err == nil {
		t.Fatal("a queued append without a task id succeeded")
	}
	logWant(t, logRead(t, s, "a", 0), 3, "3", "4", "5")
}

// testQueuedLogsSeveral: the appends of one call are stored in order, each numbered and
// trimmed as if appended alone (two to one task see each other), and one that fails its
// checks fails alone.
func testQueuedLogsSeveral(t *testing.T, s QueuedLogStore) {
	logAppendAt(t, s, "a", logBounds, logLines(1, "1"), 1)
	small := store.LogBounds{MaxLines: 2, MaxBytes: 1 << 20}
	out := s.QueueLogs(ctx(t), []store.LogAppend{
		{TaskID: "a", Lines: logLines(1, "2", "3")},
		{TaskID: "b", Lines: logLines(1, "x")},
		{TaskID: "", Lines: logLines(1, "no task")},
		{TaskID: "a", Lines: logLines(1, "4")},
		{TaskID: "c", Lines: make([]store.LogLine, store.MaxLogBatch+1)},
	}, small)()
	want := []struct {
		first int64
		fails bool
	}{{2, false}, {1, false}, {0, true}, {4, false}, {0, true}}
	if len(out) != len(want) {
		t.Fatalf("%d outcomes for %d appends", len(out), len(want))
	}
	for i, w := range want {
		if (out[i].Err != nil) != w.fails || (!w.fails && out[i].First != w.first) {
			t.Fatalf("append %d = %+v; want first %d, failing %v", i, out[i], w.first, w.fails)
		}
	}
	logWant(t, logRead(t, s, "a", 0), 3, "3", "4")
	logWant(t, logRead(t, s, "b", 0), 1, "x")
	if got := logRead(t, s, "c", 0); len(got) != 0 {
		t.Fatalf("lines of the failed append stored: %v", got)
	}
	if out := s.QueueLogs(ctx(t), nil, logBounds)(); len(out) != 0 {
		t.Fatalf("no append queued, %d outcomes", len(out))
	}
}

// testQueuedLogsMany: one call whose appends far exceed one transaction of a store that
// splits it (1.5 MB; a task's second append comes last, apart from its first) stores each
// append whole, in the order of the call: every task's second append numbered after its
// first.
func testQueuedLogsMany(t *testing.T, s QueuedLogStore) {
	const tasks = 1500
	pad := strings.Repeat("x", 900)
	var appends []store.LogAppend
	for i := range tasks {
		appends = append(appends, store.LogAppend{TaskID: fmt.Sprintf("m%04d", i), Lines: logLines(1, pad+"first")})
	}
	for i := 0; i < tasks; i += 7 {
		appends = append(appends, store.LogAppend{TaskID: fmt.Sprintf("m%04d", i), Lines: logLines(1, "second", "third")})
	}
	out := s.QueueLogs(ctx(t), appends, logBounds)()
	if len(out) != len(appends) {
		t.Fatalf("%d outcomes for %d appends", len(out), len(appends))
	}
	for i, o := range out {
		want := int64(1)
		if i >= tasks {
			want = 2
		}
		if o.Err != nil || o.First != want {
			t.Fatalf("append %d (task %s) = %+v; want first %d", i, appends[i].TaskID, o, want)
		}
	}
	for i := range tasks {
		id := fmt.Sprintf("m%04d", i)
		if i%7 == 0 {
			logWant(t, logRead(t, s, id, 0), 1, pad+"first", "second", "third")
		} else {
			logWant(t, logRead(t, s, id, 0), 1, pad+"first")
		}
	}
}
