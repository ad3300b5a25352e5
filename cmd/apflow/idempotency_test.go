package main

import (
	"encoding/json"
	"strings"
	"testing"

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
