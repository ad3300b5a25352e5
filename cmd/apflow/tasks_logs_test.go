package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/store"
)

// TestTaskLogsCLI: the run summary shows a failed task's last log lines under its error,
// and apflow tasks logs prints a task's lines, as text or JSON lines.
func TestTaskLogsCLI(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	copyFile(t, "testdata/noisy.wasm", filepath.Join(plugins, "noisy.wasm"))
	tree := `[{"id": "r", "name": "root", "schemas": {"method": "echo"}, "dependencies": ["n"]},
	 {"id": "n", "name": "noisy one", "parent_id": "r", "schemas": {"method": "noisy"}}]`
	base := []string{"--data-dir", dataDir, "--plugins", plugins}
	code, out, errOut := apflow(t, "", append([]string{"run", "-q", "--keep-ids", writeTree(t, tree)}, base...)...)
	if code != exitFailed {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	// The suggested command reaches this run's tasks: it carries the --data-dir given.
	want := "✗ noisy one (n) failed: noisy gave up\n    last log lines (apflow tasks logs n --data-dir " + shellQuote(dataDir) + "):\n" +
		"      #1 debug executor: connecting to the backend\n      #1 error executor: backend refused: 503\n"
	if !strings.Contains(out, want) {
		t.Fatalf("summary lacks the log lines %q:\n%s", want, out)
	}
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"tasks", "logs", "n"}, []string{"#1  debug  executor  connecting to the backend\n", "#1  error  executor  backend refused: 503\n"}},
		{[]string{"tasks", "logs", "r"}, nil},
	}
	for _, c := range cases {
		code, stdout, stderr := apflow(t, "", append(c.args, base...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", c.args, code, stderr)
		}
		if len(c.want) == 0 && stdout != "" {
			t.Errorf("%v: %q, want nothing", c.args, stdout)
		}
		for _, s := range c.want {
			if !strings.Contains(stdout, s) {
				t.Errorf("%v: stdout lacks %q:\n%s", c.args, s, stdout)
			}
		}
	}
	// --follow of a task nothing can run (r is blocked, and this command holds the data
	// dir) prints what is stored and returns, saying why.
	code, stdout, stderr := apflow(t, "", append([]string{"tasks", "logs", "r", "--follow"}, base...)...)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "not following task r (pending): this command holds the data dir") {
		t.Fatalf("logs --follow of a blocked task: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = apflow(t, "", append([]string{"tasks", "logs", "n", "--json"}, base...)...)
	if code != 0 {
		t.Fatalf("logs --json: exit %d\n%s", code, stderr)
	}
	var seqs []int64
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var l store.LogLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		seqs = append(seqs, l.Seq)
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("--json seqs %v", seqs)
	}
	if code, _, stderr := apflow(t, "", append([]string{"tasks", "logs", "nope"}, base...)...); code == 0 || !strings.Contains(stderr, "nope") {
		t.Fatalf("logs of a missing task: exit %d, %s", code, stderr)
	}
}
