package progress

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

func setup(t *testing.T) []*task.Task {
	t.Helper()
	return []*task.Task{
		{ID: "r", Name: "root", Status: task.Pending},
		{ID: "a", Name: "fetch", ParentID: "r", Status: task.Pending},
		{ID: "b", Name: "parse", ParentID: "r", Status: task.Pending},
		{ID: "c", Name: "deep", ParentID: "b", Status: task.Pending},
	}
}

func TestPlainWritesOneLinePerStatusChange(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := NewPlain(&buf, store.Tasks(setup(t)))
	p.now = func() time.Time { return time.Date(2026, 1, 1, 14, 3, 7, 0, time.UTC) }
	for _, u := range []Update{
		{TaskID: "a", Status: task.InProgress},
		{TaskID: "a", Status: task.InProgress, Progress: 0.5}, // progress only: no line
		{TaskID: "a", Status: task.Failed, Error: "boom"},
		{TaskID: "b", Status: task.Pending, Error: task.BlockedPrefix + "required dependency a failed"},
		{TaskID: "zz", Status: task.Completed}, // unknown task: ignored
	} {
		p.Apply(u)
	}
	p.Close()
	want := "14:03:07 ▶ fetch in_progress\n" +
		"14:03:07 ✗ fetch failed: boom\n"
	if got := buf.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestPlainShowsRetries(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := NewPlain(&buf, store.Tasks(setup(t)))
	p.now = func() time.Time { return time.Date(2026, 1, 1, 14, 3, 7, 0, time.UTC) }
	next := time.Date(2026, 1, 1, 14, 3, 9, 0, time.Local)
	waiting := &task.RetryState{MaxAttempts: 3, NextAttemptAt: next, History: []task.Attempt{{Attempt: 1, Error: "HTTP 503"}}}
	for _, u := range []Update{
		{TaskID: "a", Status: task.InProgress},
		{TaskID: "a", Status: task.Pending, Retry: waiting},
		{TaskID: "a", Status: task.InProgress},
		{TaskID: "a", Status: task.Completed},
	} {
		p.Apply(u)
	}
	want := "14:03:07 ▶ fetch in_progress\n" +
		"14:03:07 ↻ fetch retrying: attempt 1 of 3 failed (HTTP 503), next at 14:03:09\n" +
		"14:03:07 ▶ fetch in_progress\n" +
		"14:03:07 ✓ fetch completed\n"
	if got := buf.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummaryCountsBlockedApart(t *testing.T) {
	t.Parallel()
	tasks := setup(t)
	tasks[1].Status = task.Completed
	tasks[2].Error = task.BlockedPrefix + "required dependency x failed"
	tasks[3].Status = task.Failed
	got := Summary(tasks)
	want := "4 tasks: 1 pending, 1 completed, 1 failed, 1 blocked"
	if got != want {
		t.Fatalf("Summary = %q, want %q", got, want)
	}
}

func TestSummaryOfCountsIsSummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		byStatus map[task.Status]int
		blocked  int
		want     string
	}{
		{"all completed", map[task.Status]int{task.Completed: 10001}, 0, "10001 tasks: 10001 completed"},
		{"one task", map[task.Status]int{task.Completed: 1}, 0, "1 task: 1 completed"},
		{"statuses in their order, blocked last", map[task.Status]int{task.Failed: 1, task.Pending: 1, task.Completed: 1}, 1,
			"4 tasks: 1 pending, 1 completed, 1 failed, 1 blocked"},
		{"zero counts left out", map[task.Status]int{task.Cancelled: 0, task.Completed: 2}, 0, "2 tasks: 2 completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := SummaryOfCounts(tt.byStatus, tt.blocked); got != tt.want {
				t.Fatalf("SummaryOfCounts = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTTYRendersTreeIndentedAndCut(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	v := NewTTY(&buf, store.Tasks(setup(t)), TTYOptions{Title: "demo", Width: 30, Height: 20, Interval: time.Hour})
	v.Apply(Update{TaskID: "c", Status: task.InProgress, Progress: 0.25})
	lines := v.render()
	v.Close()
	if want := "    ▶ deep   25%"; lines[4] != want {
		t.Fatalf("line for deep task = %q, want %q (indented two levels)", lines[4], want)
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 30 {
			t.Fatalf("line longer than width: %q (%d)", l, n)
		}
	}
	if !strings.Contains(buf.String(), "\x1b[2K") {
		t.Fatalf("final draw did not clear lines: %q", buf.String())
	}
}

func TestPickInterestingPrefersRunningAndFailed(t *testing.T) {
	t.Parallel()
	tasks := []*task.Task{{ID: "root", Status: task.Pending}}
	for i := 0; i < 100; i++ {
		st := task.Completed
		switch i {
		case 50:
			st = task.InProgress
		case 70:
			st = task.Failed
		}
		tasks = append(tasks, &task.Task{ID: fmt.Sprintf("t%02d", i), ParentID: "root", Status: st})
	}
	m := newModel(store.Tasks(tasks))
	shown, hidden := pickInteresting(m.order, 3)
	var ids []string
	for _, n := range shown {
		ids = append(ids, n.id)
	}
	if got, want := strings.Join(ids, ","), "root,t50,t70"; got != want {
		t.Fatalf("shown = %s, want %s", got, want)
	}
	if hidden != 98 {
		t.Fatalf("hidden = %d, want 98", hidden)
	}
}

func TestModelHandlesDeepTreesIteratively(t *testing.T) {
	t.Parallel()
	const depth = 100000
	tasks := make([]*task.Task, depth)
	for i := range tasks {
		tasks[i] = &task.Task{ID: fmt.Sprint(i), Status: task.Pending}
		if i > 0 {
			tasks[i].ParentID = fmt.Sprint(i - 1)
		}
	}
	m := newModel(store.Tasks(tasks))
	if len(m.order) != depth || m.order[depth-1].depth != depth-1 {
		t.Fatalf("order has %d nodes, last depth %d", len(m.order), m.order[len(m.order)-1].depth)
	}
}

// TestViewKeepsOnlyWhatItShows: a view keeps a copy of what it shows of each task
// (type shown: no inputs, schemas or result), which later changes of the caller's tasks
// do not reach.
func TestViewKeepsOnlyWhatItShows(t *testing.T) {
	t.Parallel()
	tasks := setup(t)
	a := tasks[1]
	a.Inputs = map[string]any{"url": "https://example.com"}
	a.Status, a.Progress, a.Error = task.Failed, 0.5, "boom"
	next := time.Date(2026, 1, 1, 14, 3, 9, 0, time.UTC)
	a.Retry = &task.RetryState{MaxAttempts: 3, NextAttemptAt: next}
	m := newModel(store.Tasks(tasks))
	got := m.byID["a"].shown
	want := shown{id: "a", name: "fetch", status: task.Failed, progress: 0.5, err: "boom"}
	if got.retry == nil || got.retry == a.Retry || got.retry.MaxAttempts != 3 || !got.retry.NextAttemptAt.Equal(next) {
		t.Errorf("the view's retry state is %+v, want a copy of %+v", got.retry, a.Retry)
	}
	got.retry = nil
	if got != want {
		t.Errorf("the view keeps %+v, want %+v", got, want)
	}
	a.Status, a.Name, a.Retry.NextAttemptAt = task.Completed, "renamed", time.Time{}
	if n := m.byID["a"]; n.status != task.Failed || n.name != "fetch" || n.retry.NextAttemptAt.IsZero() {
		t.Errorf("a change of the caller's task reached the view: %+v", n.shown)
	}
}
