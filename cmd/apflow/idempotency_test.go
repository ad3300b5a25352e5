package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// rootsIn lists the roots stored in dataDir (apflow tasks list --json).
func rootsIn(t *testing.T, dataDir string) []string {
	t.Helper()
	code, out, errOut := apflow(t, "", "tasks", "list", "--data-dir", dataDir, "--json")
	if code != exitOK {
		t.Fatalf("tasks list: exit %d: %s", code, errOut)
	}
	var roots []task.Task
	if err := json.Unmarshal([]byte(out), &roots); err != nil {
		t.Fatalf("tasks list output %q: %v", out, err)
	}
	ids := make([]string, len(roots))
	for i, r := range roots {
		ids[i] = r.ID
	}
	return ids
}

func TestRunIdempotencyKey(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	run := func(tree string, extra ...string) (int, string, string) {
		args := append([]string{"run", "--data-dir", dataDir, "--plugins", plugins, "-q"}, extra...)
		return apflow(t, "", append(args, writeTree(t, tree))...)
	}
	// A failing tree: a second run would reset and re-run the failed task.
	code, out, errOut := run(failingTree, "--idempotency-key", "nightly")
	if code != exitFailed {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errOut)
	}
	roots := rootsIn(t, dataDir)
	if len(roots) != 1 {
		t.Fatalf("roots after the first run: %v", roots)
	}
	// The same key and tree (spelled with other white space): nothing submitted, the
	// first tree shown with the same outcome.
	code, again, errOut := run(strings.ReplaceAll(failingTree, "\n", " "), "--idempotency-key", "nightly")
	if code != exitFailed || !strings.Contains(again, `idempotency key "nightly": tree `+roots[0]) ||
		!strings.Contains(again, "1 completed, 1 failed, 2 blocked") {
		t.Fatalf("repeat: exit %d\n%s\n%s", code, again, errOut)
	}
	if got := rootsIn(t, dataDir); len(got) != 1 {
		t.Fatalf("roots after the repeat: %v", got)
	}
	// Its summary gives the stored run's time, not how long the repeat looked.
	_, treeJSON, _ := apflow(t, "", "tasks", "tree", roots[0], "--data-dir", dataDir, "--json")
	var tree task.TreeNode
	if err := json.Unmarshal([]byte(treeJSON), &tree); err != nil {
		t.Fatalf("tasks tree --json %q: %v", treeJSON, err)
	}
	span, ok := runSpan(flatten([]*task.TreeNode{&tree}))
	if want := fmt.Sprintf("blocked in %s\n", span.Round(time.Millisecond)); !ok || !strings.Contains(again, want) {
		t.Errorf("repeat's summary:\n%s\nwant the stored run's time: %q", again, want)
	}
	// The same key with another tree is refused, naming the flag's field.
	code, out, errOut = run(goodTree, "--idempotency-key", "nightly")
	if code != exitInvalid || !strings.Contains(errOut, "idempotency_key") || !strings.Contains(errOut, "content differs") {
		t.Fatalf("other tree: exit %d\n%s\n%s", code, out, errOut)
	}
	// Another key, or none, submits again.
	if code, out, errOut = run(goodTree, "--idempotency-key", "other"); code != exitOK {
		t.Fatalf("another key: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut = run(failingTree); code != exitFailed {
		t.Fatalf("no key: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := rootsIn(t, dataDir); len(got) != 3 {
		t.Fatalf("roots: %v, want 3", got)
	}
	// An empty key is refused.
	if code, _, errOut = run(goodTree, "--idempotency-key", ""); code != exitInvalid || !strings.Contains(errOut, "--idempotency-key") {
		t.Fatalf("empty key: exit %d: %s", code, errOut)
	}
}

// TestRunSpan: a run's time is from its first task's start to its last task's end.
func TestRunSpan(t *testing.T) {
	t.Parallel()
	at := func(s int) time.Time { return time.Date(2026, 1, 1, 0, 0, s, 0, time.UTC) }
	tests := []struct {
		name  string
		tasks []*task.Task
		want  time.Duration
		ok    bool
	}{
		{"ended", []*task.Task{{StartedAt: at(3), CompletedAt: at(5)}, {StartedAt: at(1), CompletedAt: at(4)}, {}}, 4 * time.Second, true},
		{"none started", []*task.Task{{}, {}}, 0, false},
		{"none ended", []*task.Task{{StartedAt: at(1)}}, 0, false},
	}
	for _, tt := range tests {
		if got, ok := runSpan(tt.tasks); got != tt.want || ok != tt.ok {
			t.Errorf("%s: runSpan = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
