package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestKillDashNineLosesNothing starts `apflow run` on a chain of slow tasks, kills the
// process with SIGKILL once some tasks have completed, then runs `apflow resume`: every
// task must end completed, and no task seen completed before the kill may run again.
func TestKillDashNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it twice")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	dataDir, plugins := setup(t)
	pad := strings.Repeat("x", 400) // about 0.3 s of spinning per task
	var b strings.Builder
	b.WriteString(`[{"id": "crash-root", "name": "root", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["s6"]}`)
	for i := 1; i <= 6; i++ {
		dep := ""
		if i > 1 {
			dep = fmt.Sprintf(`, "dependencies": ["s%d"]`, i-1)
		}
		fmt.Fprintf(&b, `,{"name": "s%d", "parent_id": "crash-root", "schemas": {"method": "spin"}, "inputs": {"pad": %q}%s}`, i, pad, dep)
	}
	b.WriteString("]")
	treeFile := writeTree(t, b.String())

	run := exec.Command(bin, "run", "--data-dir", dataDir, "--plugins", plugins, treeFile)
	stdout, err := run.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	run.Stderr = os.Stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	completed := map[string]bool{}
	done := regexp.MustCompile(`✓ (s\d) completed`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := done.FindStringSubmatch(sc.Text()); m != nil {
			completed[m[1]] = true
		}
		if len(completed) == 2 {
			break
		}
	}
	if err := run.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = run.Wait()
	if len(completed) != 2 {
		t.Fatalf("the run ended before two tasks completed: %v", completed)
	}

	resume := exec.Command(bin, "resume", "--json", "--data-dir", dataDir, "--plugins", plugins)
	resume.Stderr = os.Stderr
	deadline := time.AfterFunc(2*time.Minute, func() { _ = resume.Process.Kill() })
	out, err := resume.Output()
	deadline.Stop()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	var root task.TreeNode
	if err := json.Unmarshal(out, &root); err != nil {
		t.Fatalf("resume --json: %v\n%s", err, out)
	}
	if root.Task.Status != task.Completed {
		t.Fatalf("root %s after resume", root.Task.Status)
	}
	for _, c := range root.Children {
		if c.Task.Status != task.Completed {
			t.Errorf("%s is %s after resume: %s", c.Task.Name, c.Task.Status, c.Task.Error)
		}
		if completed[c.Task.Name] && c.Task.Attempts != 1 {
			t.Errorf("%s completed before the kill but ran %d times", c.Task.Name, c.Task.Attempts)
		}
	}
}
