package main

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestCompletedRuns: the summary skips reading the trees back only when the engine
// reported, for every root, a whole tree that completed.
func TestCompletedRuns(t *testing.T) {
	t.Parallel()
	setup := func(mod func(*engine.RunResult)) map[string]*engine.RunResult {
		res := &engine.RunResult{RootID: "r", Status: task.Completed,
			Root:   &task.Task{ID: "r", Name: "root", Status: task.Completed},
			Counts: map[task.Status]int{task.Completed: 3}}
		if mod != nil {
			mod(res)
		}
		return map[string]*engine.RunResult{"r": res}
	}
	tests := []struct {
		name  string
		roots []string
		mod   func(*engine.RunResult)
		want  bool
	}{
		{"every task completed", []string{"r"}, nil, true},
		{"no root", nil, nil, false},
		{"a root without a report", []string{"r", "other"}, nil, false},
		{"a failed task", []string{"r"}, func(r *engine.RunResult) { r.Counts[task.Failed] = 1 }, false},
		{"a blocked task", []string{"r"}, func(r *engine.RunResult) { r.Counts[task.Pending] = 1; r.Blocked = 1 }, false},
		{"interrupted", []string{"r"}, func(r *engine.RunResult) { r.Interrupted = true }, false},
		{"the store failed", []string{"r"}, func(r *engine.RunResult) { r.Err = errors.New("disk full") }, false},
		{"a report whose root has a parent", []string{"r"}, func(r *engine.RunResult) { r.Root.ParentID = "p" }, false},
		{"no snapshot of the root", []string{"r"}, func(r *engine.RunResult) { r.Root = nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			roots, total, ok := completedRuns(tt.roots, setup(tt.mod))
			if ok != tt.want || (ok && (len(roots) != 1 || roots[0].ID != "r" || total != 3)) {
				t.Fatalf("completedRuns = %v, %d, %v; want ok %v (root r, 3 tasks)", roots, total, ok, tt.want)
			}
		})
	}
}

// TestPrintCompletedMatchesPrintSummary: the summary of completed runs printed from the
// engine's reports is the one printed from the trees read back.
func TestPrintCompletedMatchesPrintSummary(t *testing.T) {
	t.Parallel()
	mk := func(id, parent string, result any) *task.Task {
		return &task.Task{ID: id, Name: "name " + id, ParentID: parent, Status: task.Completed, Result: result}
	}
	a, b := mk("a", "", map[string]any{"sum": 3}), mk("b", "", []any{"x", "y"})
	trees := []*task.TreeNode{
		{Task: a, Children: []*task.TreeNode{{Task: mk("a1", "a", 1)}, {Task: mk("a2", "a", 2)}}},
		{Task: b, Children: []*task.TreeNode{{Task: mk("b1", "b", nil)}}},
	}
	ended := map[string]*engine.RunResult{
		"a": {RootID: "a", Root: a, Counts: map[task.Status]int{task.Completed: 3}},
		"b": {RootID: "b", Root: b, Counts: map[task.Status]int{task.Completed: 2}},
	}
	roots, total, ok := completedRuns([]string{"a", "b"}, ended)
	if !ok || total != 5 {
		t.Fatalf("completedRuns = %v, %d; want the runs that completed, 5 tasks", ok, total)
	}
	var fast, full bytes.Buffer
	printCompleted(&fast, roots, total, 5, 1500*time.Millisecond, (&globals{}).again)
	printSummary(&full, flatten(trees), 1500*time.Millisecond, true, nil, (&globals{}).again)
	if fast.String() != full.String() {
		t.Fatalf("from the reports:\n%s\nfrom the trees:\n%s", fast.String(), full.String())
	}
	if want := "5 tasks: 5 completed in 1.5s\nresult of name a:"; !bytes.HasPrefix(fast.Bytes(), []byte(want)) {
		t.Fatalf("summary starts %q, want %q", fast.String(), want)
	}
	// Runs that executed nothing (a re-run of completed trees) say so, not how long
	// they took.
	var none bytes.Buffer
	printCompleted(&none, roots, total, 0, 1500*time.Millisecond, (&globals{}).again)
	if want := "nothing to run: all 5 tasks had completed (tasks rerun --full runs them again)\nresult of name a:"; !bytes.HasPrefix(none.Bytes(), []byte(want)) {
		t.Fatalf("summary of runs that executed nothing starts %q, want %q", none.String(), want)
	}
}

// TestFlattenKeepsTheTreesInOrder: tasks come tree by tree, in the order of the trees,
// each tree depth first.
func TestFlattenKeepsTheTreesInOrder(t *testing.T) {
	t.Parallel()
	n := func(id string, children ...*task.TreeNode) *task.TreeNode {
		return &task.TreeNode{Task: &task.Task{ID: id}, Children: children}
	}
	var got []string
	for _, x := range flatten([]*task.TreeNode{n("a", n("a1", n("a11")), n("a2")), n("b", n("b1"))}) {
		got = append(got, x.ID)
	}
	if want := []string{"a", "a1", "a11", "a2", "b", "b1"}; !slices.Equal(got, want) {
		t.Fatalf("flatten = %v, want %v", got, want)
	}
}
