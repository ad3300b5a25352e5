package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// LogStore is a store that keeps tasks' log lines.
type LogStore interface {
	store.Store
	store.TaskLogs
}

// RunLogs runs the conformance suite of store.TaskLogs. newStore must return a new,
// empty store for each call; RunLogs closes it when the subtest ends.
func RunLogs[S LogStore](t *testing.T, newStore func(t *testing.T) S) {
	runSuite(t, func(t *testing.T) LogStore { return newStore(t) }, logCases)
}

var logCases = []storeCase[LogStore]{
	{"RoundTrip", testLogsRoundTrip},
	{"Paging", testLogsPaging},
	{"TrimToLines", testLogsTrimLines},
	{"TrimToBytes", testLogsTrimBytes},
	{"InvalidUTF8", testLogsInvalidUTF8},
	{"TasksAreSeparate", testLogsSeparate},
	{"Delete", testLogsDelete},
	{"GoWithTheirTask", testLogsGoWithTheirTask},
	{"ConcurrentAppends", testLogsConcurrent},
	{"Checks", testLogsChecks},
}

var logBounds = store.LogBounds{MaxLines: 1000, MaxBytes: 1 << 20}

var logT0 = time.Date(2026, 12, 3, 4, 5, 6, 123456789, time.FixedZone("X", 3600))

func logLines(attempt int, msgs ...string) []store.LogLine {
	out := make([]store.LogLine, len(msgs))
	for i, m := range msgs {
		out[i] = store.LogLine{Time: logT0.Add(time.Duration(i) * time.Second), Attempt: attempt, Source: "executor", Level: "info", Message: m}
	}
	return out
}

func logAppend(t *testing.T, s LogStore, id string, b store.LogBounds, lines []store.LogLine) {
	t.Helper()
	if _, err := s.AppendLogs(ctx(t), id, lines, b); err != nil {
		t.Fatalf("AppendLogs(%s, %d lines): %v", id, len(lines), err)
	}
}

// logAppendAt appends lines and checks the Seq of the first.
func logAppendAt(t *testing.T, s LogStore, id string, b store.LogBounds, lines []store.LogLine, first int64) {
	t.Helper()
	got, err := s.AppendLogs(ctx(t), id, lines, b)
	if err != nil || got != first {
		t.Fatalf("AppendLogs(%s, %d lines) = %d, %v; want first seq %d", id, len(lines), got, err, first)
	}
}

// logRead reads every line of id after after, page by page.
func logRead(t *testing.T, s LogStore, id string, after int64) []store.LogLine {
	t.Helper()
	var all []store.LogLine
	for range 100 {
		page, more, err := s.Logs(ctx(t), id, after, 3)
		if err != nil {
			t.Fatalf("Logs(%s, %d): %v", id, after, err)
		}
		all = append(all, page...)
		if !more {
			return all
		}
		if len(page) == 0 {
			t.Fatalf("Logs(%s, %d): empty page with more", id, after)
		}
		after = page[len(page)-1].Seq
	}
	t.Fatalf("Logs(%s): more than 100 pages", id)
	return nil
}

// logWant checks the messages and Seqs of lines.
func logWant(t *testing.T, lines []store.LogLine, firstSeq int64, msgs ...string) {
	t.Helper()
	var got []string
	for _, l := range lines {
		got = append(got, fmt.Sprintf("%d:%s", l.Seq, l.Message))
	}
	var want []string
	for i, m := range msgs {
		want = append(want, fmt.Sprintf("%d:%s", firstSeq+int64(i), m))
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines = %v, want %v", got, want)
	}
}

func testLogsRoundTrip(t *testing.T, s LogStore) {
	if lines := logRead(t, s, "a", 0); len(lines) != 0 {
		t.Fatalf("lines of a task without any = %v", lines)
	}
	in := logLines(1, "one", "two")
	in[1].Level, in[1].Source, in[1].Message = "error", "hook audit", "two é\nsecond line"
	logAppendAt(t, s, "a", logBounds, in, 1)
	logAppendAt(t, s, "a", logBounds, logLines(2, "three"), 3)
	got := logRead(t, s, "a", 0)
	if len(got) != 3 {
		t.Fatalf("got %d lines, want 3: %+v", len(got), got)
	}
	want := store.LogLine{Seq: 2, Time: logT0.Add(time.Second).UTC().Truncate(time.Microsecond), Attempt: 1, Source: "hook audit", Level: "error", Message: "two é\nsecond line"}
	if got[1] != want {
		t.Fatalf("line 2 = %+v, want %+v", got[1], want)
	}
	if got[2].Seq != 3 || got[2].Attempt != 2 || got[0].Seq != 1 {
		t.Fatalf("seqs/attempts = %+v", got)
	}
}

func testLogsPaging(t *testing.T, s LogStore) {
	logAppend(t, s, "a", logBounds, logLines(1, "1", "2", "3", "4", "5"))
	cases := []struct {
		after, limit int
		want         []string
		more         bool
	}{
		{0, 2, []string{"1", "2"}, true},
		{2, 3, []string{"3", "4", "5"}, false},
		{3, 10, []string{"4", "5"}, false},
		{5, 10, nil, false},
		{99, 1, nil, false},
	}
	for _, c := range cases {
		lines, more, err := s.Logs(ctx(t), "a", int64(c.after), c.limit)
		if err != nil {
			t.Fatalf("Logs(after %d, limit %d): %v", c.after, c.limit, err)
		}
		var got []string
		for _, l := range lines {
			got = append(got, l.Message)
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") || more != c.more {
			t.Errorf("Logs(after %d, limit %d) = %v, more %v; want %v, more %v", c.after, c.limit, got, more, c.want, c.more)
		}
	}
}

func testLogsTrimLines(t *testing.T, s LogStore) {
	b := store.LogBounds{MaxLines: 3, MaxBytes: 1 << 20}
	logAppend(t, s, "a", b, logLines(1, "1", "2"))
	logAppend(t, s, "a", b, logLines(1, "3", "4"))
	logWant(t, logRead(t, s, "a", 0), 2, "2", "3", "4")
	// One append larger than the bound keeps its newest lines; Seqs go on.
	logAppendAt(t, s, "a", b, logLines(2, "5", "6", "7", "8"), 5)
	logWant(t, logRead(t, s, "a", 0), 6, "6", "7", "8")
	logWant(t, logRead(t, s, "a", 6), 7, "7", "8")
	// A lower bound trims at the next append.
	logAppend(t, s, "a", store.LogBounds{MaxLines: 2, MaxBytes: 1 << 20}, logLines(2, "9"))
	logWant(t, logRead(t, s, "a", 0), 8, "8", "9")
}

func testLogsTrimBytes(t *testing.T, s LogStore) {
	b := store.LogBounds{MaxLines: 100, MaxBytes: 10}
	logAppend(t, s, "a", b, logLines(1, "aaaa", "bbbb"))
	logAppend(t, s, "a", b, logLines(1, "cccc"))
	logWant(t, logRead(t, s, "a", 0), 2, "bbbb", "cccc")
	logAppend(t, s, "a", b, logLines(1, "dddddddddd"))
	logWant(t, logRead(t, s, "a", 0), 4, "dddddddddd")
	// A line larger than the bound on its own is not kept.
	logAppend(t, s, "a", b, logLines(1, "eeeeeeeeeee"))
	logWant(t, logRead(t, s, "a", 0), 0)
	logAppend(t, s, "a", b, logLines(1, "f"))
	logWant(t, logRead(t, s, "a", 0), 6, "f")
}

// testLogsInvalidUTF8: a message that is not valid UTF-8 is stored with U+FFFD for each
// run of bad bytes, and counts against MaxBytes as stored: the trims after it stay exact.
func testLogsInvalidUTF8(t *testing.T, s LogStore) {
	b := store.LogBounds{MaxLines: 1, MaxBytes: 1 << 20}
	logAppend(t, s, "a", b, logLines(1, strings.Repeat("\xff", 400)))
	logWant(t, logRead(t, s, "a", 0), 1, "\uFFFD")
	logAppend(t, s, "a", b, logLines(1, "ok"))
	logWant(t, logRead(t, s, "a", 0), 2, "ok")
	b = store.LogBounds{MaxLines: 100, MaxBytes: 5}
	logAppend(t, s, "b", b, logLines(1, "x\xff\xfey")) // "x\uFFFDy", 5 bytes
	logWant(t, logRead(t, s, "b", 0), 1, "x\uFFFDy")
	logAppend(t, s, "b", b, logLines(1, "z"))
	logWant(t, logRead(t, s, "b", 0), 2, "z")
	logAppend(t, s, "b", b, logLines(1, "1234"))
	logWant(t, logRead(t, s, "b", 0), 2, "z", "1234")
	// NUL, which PostgreSQL's text refuses, goes the same way.
	logAppend(t, s, "c", logBounds, logLines(1, "x\x00y"))
	logWant(t, logRead(t, s, "c", 0), 1, "x\uFFFDy")
	// The bound of a line is of its stored form.
	if _, err := s.AppendLogs(ctx(t), "c", logLines(1, strings.Repeat("\xffa", store.MaxLogLineBytes/2)), logBounds); err == nil {
		t.Fatalf("AppendLogs of a line of %d bytes stored: no error", 2*store.MaxLogLineBytes)
	}
}

func testLogsSeparate(t *testing.T, s LogStore) {
	b := store.LogBounds{MaxLines: 2, MaxBytes: 1 << 20}
	logAppend(t, s, "a", b, logLines(1, "a1", "a2"))
	logAppend(t, s, "ab", b, logLines(1, "b1", "b2", "b3"))
	logWant(t, logRead(t, s, "a", 0), 1, "a1", "a2")
	logWant(t, logRead(t, s, "ab", 0), 2, "b2", "b3")
}

// testLogsDelete: a Delete takes the lines of the tasks it deletes, and only theirs.
func testLogsDelete(t *testing.T, s LogStore) {
	if err := s.Create(ctx(t), []*task.Task{mk("a", "", 0), mk("ab", "", 0), mk("b", "", 0), mk("c", "", 0)}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	logAppend(t, s, "a", logBounds, logLines(1, "a1"))
	logAppend(t, s, "ab", logBounds, logLines(1, "ab1")) // its id starts with a's
	logAppend(t, s, "b", logBounds, logLines(1, "b1"))
	logAppend(t, s, "c", logBounds, logLines(1, "c1"))
	if err := s.Delete(ctx(t), []string{"a", "c"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	logWant(t, logRead(t, s, "a", 0), 0)
	logWant(t, logRead(t, s, "c", 0), 0)
	logWant(t, logRead(t, s, "ab", 0), 1, "ab1")
	logWant(t, logRead(t, s, "b", 0), 1, "b1")
	// A task id used again starts afresh.
	logAppend(t, s, "a", logBounds, logLines(1, "new"))
	logWant(t, logRead(t, s, "a", 0), 1, "new")
}

// testLogsGoWithTheirTask: a task's lines go with the task's Delete, in its commit. A
// backend that takes their room back after the commit may never get to it (it failed,
// or the process died): a task created later with the same id (a submission may give
// its own ids) still shows none of them, not even those its own Seqs do not reach or
// skip.
func testLogsGoWithTheirTask(t *testing.T, s LogStore) {
	create := func() {
		t.Helper()
		if err := s.Create(ctx(t), []*task.Task{mk("gone", "", 0)}); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	create()
	logAppend(t, s, "gone", logBounds, logLines(1, "old1", "old2", "old3", "old4"))
	if err := s.Delete(ctx(t), []string{"gone"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	logWant(t, logRead(t, s, "gone", 0), 0)
	create()
	logWant(t, logRead(t, s, "gone", 0), 0)
	// Seq 1 is not kept (one line at most), 2 is: neither old1 nor old3 and old4 show.
	logAppendAt(t, s, "gone", store.LogBounds{MaxLines: 1, MaxBytes: 1 << 20}, logLines(2, "new1", "new2"), 1)
	logWant(t, logRead(t, s, "gone", 0), 2, "new2")
}

func testLogsConcurrent(t *testing.T, s LogStore) {
	const writers, each = 4, 10
	b := store.LogBounds{MaxLines: 25, MaxBytes: 1 << 20}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.AppendLogs(ctx(t), "a", logLines(1, fmt.Sprintf("w%d-%d", w, i)), b); err != nil {
					t.Errorf("AppendLogs: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got := logRead(t, s, "a", 0)
	if len(got) != 25 {
		t.Fatalf("kept %d lines, want 25", len(got))
	}
	for i, l := range got {
		if l.Seq != int64(writers*each-25+1+i) {
			t.Fatalf("line %d has seq %d, want %d", i, l.Seq, writers*each-25+1+i)
		}
	}
}

func testLogsChecks(t *testing.T, s LogStore) {
	long := strings.Repeat("x", store.MaxLogLineBytes+1)
	appends := []struct {
		name string
		id   string
		b    store.LogBounds
		l    []store.LogLine
	}{
		{"empty id", "", logBounds, logLines(1, "x")},
		{"no line bound", "a", store.LogBounds{MaxBytes: 10}, logLines(1, "x")},
		{"no byte bound", "a", store.LogBounds{MaxLines: 10}, logLines(1, "x")},
		{"line too long", "a", logBounds, logLines(1, long)},
		{"NUL in id", "a\x00b", logBounds, logLines(1, "x")},
	}
	for _, c := range appends {
		if _, err := s.AppendLogs(ctx(t), c.id, c.l, c.b); err == nil {
			t.Errorf("AppendLogs with %s: no error", c.name)
		}
	}
	reads := []struct {
		name  string
		after int64
		limit int
	}{
		{"negative after", -1, 10},
		{"zero limit", 0, 0},
		{"limit too large", 0, store.MaxLogRead + 1},
	}
	for _, c := range reads {
		if _, _, err := s.Logs(ctx(t), "a", c.after, c.limit); err == nil {
			t.Errorf("Logs with %s: no error", c.name)
		}
	}
	logWant(t, logRead(t, s, "a", 0), 0)
}
