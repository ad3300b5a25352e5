// Package progress renders the live state of a run in a terminal: a tree of tasks with
// their status, redrawn in place when the output is a terminal, and one plain line per
// status change otherwise (logs, CI, pipes).
//
// A View is fed updates from the engine's event stream and closed when the run ends;
// it never blocks the run: updates are applied to an in-memory model and the screen is
// redrawn at most every Interval.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Update is one change of a task's state.
type Update struct {
	TaskID   string
	Status   task.Status
	Progress float64
	Error    string
	// Retry is the task's attempt history, when it has one (a task waiting for its next
	// attempt is shown as retrying).
	Retry *task.RetryState
}

// View shows a run's progress.
type View interface {
	// Apply records an update; it is cheap and safe to call from any goroutine.
	Apply(u Update)
	// Close draws the final state and stops redrawing.
	Close()
}

type node struct {
	shown
	children []*node
	depth    int
}

// shown is what a view shows of a task (label, symbol, detail) and apply updates: all a
// view keeps of one for the whole run. A whole clone of every task held a large tree's
// inputs and schemas a second time, and a task.Task alone is over 600 bytes.
type shown struct {
	id, name string
	status   task.Status
	progress float64
	err      string
	retry    *task.RetryState // read only: apply replaces it whole
}

// shownOf returns a copy of what a view shows of t.
func shownOf(t *task.Task) shown {
	s := shown{id: t.ID, name: t.Name, status: t.Status, progress: t.Progress, err: t.Error}
	if t.Retry != nil {
		r := *t.Retry
		s.retry = &r
	}
	return s
}

func (s *shown) blocked() bool      { return task.IsBlocked(s.status, s.err) }
func (s *shown) waitingRetry() bool { return task.IsWaitingRetry(s.status, s.retry) }

// model holds the tasks of one tree in display order (depth-first, children in
// submission order) and their latest state.
type model struct {
	mu    sync.Mutex
	order []*node
	byID  map[string]*node
}

// newModel reads each task of tasks once.
func newModel(tasks store.Batch) *model {
	n := tasks.Len()
	m := &model{byID: make(map[string]*node, n)}
	type link struct{ id, parent string }
	links := make([]link, n)
	for i := range n {
		t := tasks.Task(i)
		m.byID[t.ID] = &node{shown: shownOf(t)}
		links[i] = link{t.ID, t.ParentID}
	}
	var roots []*node
	for _, l := range links {
		n := m.byID[l.id]
		if p, ok := m.byID[l.parent]; ok && l.parent != "" {
			p.children = append(p.children, n)
		} else {
			roots = append(roots, n)
		}
	}
	// Iterative depth-first walk: trees may be deep.
	type frame struct {
		n     *node
		depth int
	}
	stack := make([]frame, 0, len(roots))
	for i := len(roots) - 1; i >= 0; i-- {
		stack = append(stack, frame{roots[i], 0})
	}
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		f.n.depth = f.depth
		m.order = append(m.order, f.n)
		for i := len(f.n.children) - 1; i >= 0; i-- {
			stack = append(stack, frame{f.n.children[i], f.depth + 1})
		}
	}
	return m
}

// apply records u and reports whether the status changed.
func (m *model) apply(u Update) (n *node, changed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.byID[u.TaskID]
	if !ok {
		return nil, false
	}
	changed = n.status != u.Status
	n.status = u.Status
	n.progress = u.Progress
	n.err = u.Error
	if u.Retry != nil || u.Status != task.Pending {
		n.retry = u.Retry
	}
	return n, changed
}

// Symbol returns the one-character mark of a task's state.
func Symbol(t *task.Task) string {
	s := shown{status: t.Status, err: t.Error, retry: t.Retry} // read only: no copy
	return s.symbol()
}

func (s *shown) symbol() string {
	if s.blocked() {
		return "⊘"
	}
	if s.waitingRetry() {
		return "↻"
	}
	switch s.status {
	case task.Pending:
		return "·"
	case task.InProgress:
		return "▶"
	case task.Completed:
		return "✓"
	case task.Failed:
		return "✗"
	case task.Cancelled:
		return "■"
	}
	return "?"
}

// Summary formats the counts line: "12 tasks: 10 completed, 1 failed, 1 blocked". It only
// reads the tasks (no copy of them is made, unlike a view).
func Summary(tasks []*task.Task) string {
	return countLine(tasks, func(t *task.Task) (task.Status, bool) { return t.Status, t.Blocked() })
}

func (m *model) summary() string {
	return countLine(m.order, func(n *node) (task.Status, bool) { return n.status, n.blocked() })
}

// SummaryOfCounts is Summary from counts: byStatus counts the tasks by status, blocked
// ones apart (blocked is their number).
func SummaryOfCounts(byStatus map[task.Status]int, blocked int) string {
	total := blocked
	for _, n := range byStatus {
		total += n
	}
	parts := []string{}
	for _, s := range task.Statuses {
		if byStatus[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", byStatus[s], s))
		}
	}
	if blocked > 0 {
		parts = append(parts, fmt.Sprintf("%d blocked", blocked))
	}
	noun := "tasks"
	if total == 1 {
		noun = "task"
	}
	return fmt.Sprintf("%d %s: %s", total, noun, strings.Join(parts, ", "))
}

// countLine counts items by status (blocked apart: state reports an item's status and
// whether it is blocked) into the summary line.
func countLine[T any](items []T, state func(T) (task.Status, bool)) string {
	byStatus := make(map[task.Status]int, len(task.Statuses))
	blocked := 0
	for _, it := range items {
		if st, isBlocked := state(it); isBlocked {
			blocked++
		} else {
			byStatus[st]++
		}
	}
	return SummaryOfCounts(byStatus, blocked)
}

// label is how a task is named on screen.
func (s *shown) label() string {
	if s.name != "" && s.name != s.id {
		return s.name
	}
	return s.id
}

// detail is the text after a task's name: progress while running, the error when it
// failed, was cancelled or is blocked.
func (s *shown) detail() string {
	switch {
	case s.status == task.InProgress && s.progress > 0:
		return fmt.Sprintf("%3.0f%%", s.progress*100)
	case s.err != "" && (s.status == task.Failed || s.status == task.Cancelled || s.blocked()):
		first, _, _ := strings.Cut(s.err, "\n") // a trap's stack trace: in the summary
		return first
	case s.waitingRetry() && len(s.retry.History) > 0:
		last := s.retry.History[len(s.retry.History)-1]
		return fmt.Sprintf("attempt %d of %d failed (%s), next at %s",
			last.Attempt, s.retry.MaxAttempts, last.Error, s.retry.NextAttemptAt.Local().Format("15:04:05"))
	}
	return ""
}

// Plain writes one line per status change: "14:03:07 ✓ fetch completed".
type Plain struct {
	w   io.Writer
	m   *model
	now func() time.Time
	mu  sync.Mutex
}

// NewPlain returns a View that writes a line per status change to w. It reads each task
// of tasks once, and keeps only what it shows of them.
func NewPlain(w io.Writer, tasks store.Batch) *Plain {
	return &Plain{w: w, m: newModel(tasks), now: time.Now}
}

// Apply implements View.
func (p *Plain) Apply(u Update) {
	n, changed := p.m.apply(u)
	if n == nil || !changed {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("%s %s %s %s", p.now().Format("15:04:05"), n.symbol(), n.label(), u.Status)
	if n.waitingRetry() {
		line = fmt.Sprintf("%s %s %s retrying", p.now().Format("15:04:05"), n.symbol(), n.label())
	}
	if n.blocked() {
		line = fmt.Sprintf("%s %s %s blocked", p.now().Format("15:04:05"), n.symbol(), n.label())
	}
	if d := n.detail(); d != "" && u.Status != task.InProgress {
		line += ": " + d
	}
	fmt.Fprintln(p.w, line)
}

// Close implements View.
func (p *Plain) Close() {}
