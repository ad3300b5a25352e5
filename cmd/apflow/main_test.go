package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// setup returns a data dir and a plugins dir holding the test executors: spin (burns CPU
// in proportion to its input's length), echo (returns its input) and divzero (traps).
func setup(t testing.TB) (dataDir, pluginsDir string) {
	t.Helper()
	dataDir, pluginsDir = t.TempDir(), t.TempDir()
	for dst, src := range map[string]string{
		"spin.wasm":    "testdata/spin.wasm",
		"echo.wasm":    "../../host/sandbox/testdata/echo.wasm",
		"divzero.wasm": "../../host/sandbox/testdata/divzero.wasm",
	} {
		copyFile(t, src, filepath.Join(pluginsDir, dst))
	}
	return dataDir, pluginsDir
}

// apflow runs the CLI in-process and returns its exit status, stdout and stderr.
func apflow(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut logbuf.Buffer
	code := execute(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeTree(t *testing.T, tree string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tree.json")
	if err := os.WriteFile(path, []byte(tree), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodTree = `[
 {"name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["a", "b"]},
 {"name": "a", "parent_id": "report", "priority": 0, "schemas": {"method": "echo"}, "inputs": {"x": 1}},
 {"name": "b", "parent_id": "report", "priority": 3, "schemas": {"method": "echo"}, "inputs": {"y": 2},
  "dependencies": ["a"]}
]`

const failingTree = `[
 {"name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["boom", "after"]},
 {"name": "boom", "parent_id": "report", "schemas": {"method": "divzero"}},
 {"name": "after", "parent_id": "report", "schemas": {"method": "echo"}, "dependencies": ["boom"]},
 {"name": "fine", "parent_id": "report", "schemas": {"method": "echo"}, "inputs": {"ok": true}}
]`

func TestRunExitStatusAndOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tree       string
		json       bool
		config     string // a config file's content, "missing" for a path that does not exist
		flags      []string
		plugins    string // instead of setup's plugins dir: "missing", or "file" (a file, not a directory)
		wantCode   int
		wantStdout []string // substrings
		wantStderr []string
		notStderr  string // must not be in stderr
	}{
		{name: "all completed", tree: goodTree, wantCode: exitOK,
			wantStdout: []string{"✓ a completed", "✓ b completed", "✓ report completed", "3 tasks: 3 completed"}},
		{name: "json keeps stdout for the tree", tree: goodTree, json: true, wantCode: exitOK,
			wantStdout: []string{`"task": {`, `"children": [`}, wantStderr: []string{"3 tasks: 3 completed"}},
		{name: "a trap fails the task and blocks its dependents", tree: failingTree, wantCode: exitFailed,
			wantStdout: []string{"✗ boom failed", "divide by zero", "✓ fine completed",
				"blocked: required dependency", "1 completed, 1 failed, 2 blocked"}},
		{name: "a cycle is an invalid submission", tree: `[
			{"name": "r", "schemas": {"method": "aggregate_results_executor"}},
			{"name": "x", "parent_id": "r", "schemas": {"method": "echo"}, "dependencies": ["y"]},
			{"name": "y", "parent_id": "r", "schemas": {"method": "echo"}, "dependencies": ["x"]}]`,
			wantCode: exitInvalid, wantStderr: []string{"invalid task tree", "-32002", "x -> y -> x"}},
		{name: "an unknown executor is named", tree: `[{"name": "r", "schemas": {"method": "nope"}}]`,
			wantCode: exitInvalid, wantStderr: []string{`task "r"`, "schemas.method", "nope"}},
		{name: "malformed JSON gives line and column", tree: "[\n {\"name\": }\n]",
			wantCode: exitInvalid, wantStderr: []string{"line 2"}},
		// Bad input around the tree is refused as a bad tree is, not as a failed task.
		{name: "a config file that is not one", tree: goodTree, config: `{"concurrency": "x"}`,
			wantCode: exitInvalid, wantStderr: []string{"concurrency"}},
		{name: "a config file that is missing", tree: goodTree, config: "missing",
			wantCode: exitInvalid, wantStderr: []string{"no such file"}},
		{name: "ceilings alone lower the built-in defaults", tree: goodTree, config: `{"max_limits": {"timeout_ms": 10000, "memory_pages": 64}}`,
			wantCode: exitOK, wantStdout: []string{"3 tasks: 3 completed"}},
		{name: "a default above its ceiling names where it comes from", tree: goodTree, flags: []string{"--task-timeout", "2h"},
			wantCode: exitInvalid, wantStderr: []string{"default timeout_ms 7200000 is above the maximum", "--task-timeout"}},
		{name: "a plugins directory that is missing is named", tree: goodTree, plugins: "missing",
			wantCode: exitInvalid, wantStderr: []string{"--plugins directory does not exist", `executor "echo" is not registered`}},
		{name: "ephemeral with a plugins directory that is missing", tree: goodTree, plugins: "missing", flags: []string{"--ephemeral"},
			wantCode: exitInvalid, wantStderr: []string{"--ephemeral creates nothing"}, notStderr: "is created empty"},
		{name: "a plugins path that is a file", tree: goodTree, plugins: "file",
			wantCode: exitInvalid, wantStderr: []string{"--plugins", "not a directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dataDir, plugins := setup(t)
			if tc.plugins != "" {
				plugins = filepath.Join(t.TempDir(), tc.plugins)
				if tc.plugins == "file" {
					if err := os.WriteFile(plugins, nil, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			args := []string{"run", "--data-dir", dataDir, "--plugins", plugins, writeTree(t, tc.tree)}
			if tc.json {
				args = append(args, "--json")
			}
			args = append(args, tc.flags...)
			if tc.config != "" {
				path := filepath.Join(t.TempDir(), "config.json")
				if tc.config != "missing" {
					if err := os.WriteFile(path, []byte(tc.config), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				args = append(args, "--config", path)
			}
			code, stdout, stderr := apflow(t, "", args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			for _, s := range tc.wantStdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tc.wantStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tc.notStderr != "" && strings.Contains(stderr, tc.notStderr) {
				t.Errorf("stderr has %q:\n%s", tc.notStderr, stderr)
			}
			if tc.json {
				var root task.TreeNode
				if err := json.Unmarshal([]byte(stdout), &root); err != nil {
					t.Fatalf("stdout is not one JSON tree: %v\n%s", err, stdout)
				}
				if root.Task.Name != "report" || len(root.Children) != 2 || root.Task.Status != task.Completed {
					t.Fatalf("tree = %+v", root.Task)
				}
				res, _ := root.Task.Result.(map[string]any)
				if res["result_count"] != json.Number("2") && res["result_count"] != 2.0 {
					t.Fatalf("aggregator result = %v", root.Task.Result)
				}
			}
		})
	}
}

func TestTasksCommandsReadTheStore(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	tree := strings.ReplaceAll(goodTree, `"name": "report",`, `"id": "root-1", "name": "report",`)
	if code, out, errOut := apflow(t, "", "run", "-q", "--keep-ids", "--data-dir", dataDir, "--plugins", plugins, writeTree(t, tree)); code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	base := []string{"--data-dir", dataDir, "--plugins", plugins}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"tasks", "list"}, []string{"root-1", "report", "completed", "aggregate_results_executor"}},
		{[]string{"tasks", "get", "root-1"}, []string{`"id": "root-1"`, `"result_count": 2`}},
		{[]string{"tasks", "tree", "root-1"}, []string{"✓ report (root-1) completed", "  ✓ a ", "  ✓ b "}},
		{[]string{"tasks", "children", "root-1"}, []string{"a ", "b "}},
		{[]string{"plugins", "list"}, []string{"aggregate_results_executor", "echo", "spin", "divzero"}},
		{[]string{"plugins", "inspect", "echo"}, []string{`"id": "echo"`, `"hash":`}},
	}
	for _, tc := range tests {
		// Sequential: each command opens the data dir, which one process holds at a time.
		code, stdout, stderr := apflow(t, "", append(tc.args, base...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", tc.args, code, stdout, stderr)
		}
		for _, s := range tc.want {
			if !strings.Contains(stdout, s) {
				t.Errorf("%v: stdout lacks %q:\n%s", tc.args, s, stdout)
			}
		}
	}
	if code, _, stderr := apflow(t, "", append([]string{"tasks", "get", "nope"}, base...)...); code == 0 || !strings.Contains(stderr, "nope") {
		t.Fatalf("get of a missing task: exit %d, stderr %s", code, stderr)
	}
}

func TestRerunAfterFixUnblocksDependents(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	copyFile(t, "testdata/maybe_bad.wasm", filepath.Join(plugins, "maybe.wasm"))
	tree := `[
	 {"id": "root-2", "name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["flaky", "after"]},
	 {"name": "flaky", "parent_id": "root-2", "schemas": {"method": "maybe"}},
	 {"name": "after", "parent_id": "root-2", "schemas": {"method": "echo"}, "inputs": {"z": 3}, "dependencies": ["flaky"]},
	 {"name": "fine", "parent_id": "root-2", "schemas": {"method": "echo"}, "inputs": {"ok": true}}
	]`
	base := []string{"--data-dir", dataDir, "--plugins", plugins}
	code, stdout, _ := apflow(t, "", append([]string{"run", "--keep-ids", writeTree(t, tree)}, base...)...)
	if code != exitFailed || !strings.Contains(stdout, "unreachable") || !strings.Contains(stdout, "2 blocked") {
		t.Fatalf("first run: exit %d\n%s", code, stdout)
	}
	// The operator ships a fixed version of the plugin; the re-run picks it up, runs the
	// failed task and the blocked ones, and leaves the completed one alone.
	copyFile(t, "testdata/maybe_ok.wasm", filepath.Join(plugins, "maybe.wasm"))
	code, stdout, stderr := apflow(t, "", append([]string{"tasks", "rerun", "root-2"}, base...)...)
	if code != exitOK {
		t.Fatalf("rerun: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "fine in_progress") {
		t.Fatalf("a completed task ran again:\n%s", stdout)
	}
	code, stdout, _ = apflow(t, "", append([]string{"tasks", "get", "root-2"}, base...)...)
	var root task.Task
	if err := json.Unmarshal([]byte(stdout), &root); code != 0 || err != nil {
		t.Fatalf("get: %d %v", code, err)
	}
	if root.Status != task.Completed || root.Attempts != 1 {
		t.Fatalf("root after rerun: status %s attempts %d", root.Status, root.Attempts)
	}
	// --json: stdout holds the final tree alone, as apflow run's.
	code, stdout, stderr = apflow(t, "", append([]string{"tasks", "rerun", "--json", "--full", "root-2"}, base...)...)
	var node task.TreeNode
	if err := json.Unmarshal([]byte(stdout), &node); code != exitOK || err != nil || node.Task.ID != "root-2" ||
		node.Task.Status != task.Completed || len(node.Children) != 3 || !strings.Contains(stderr, "4 tasks: 4 completed") {
		t.Fatalf("rerun --json: exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, stdout, stderr)
	}
}

// builtFile returns the absolute path of a file a make target builds (rel is relative
// to this package), skipping the test when it is missing, or failing it under
// APFLOW_REQUIRE_KITS (CI), where target always ran first.
func builtFile(t testing.TB, rel, target string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("APFLOW_REQUIRE_KITS") != "" {
			t.Fatalf("%v (make %s builds it)", err, target)
		}
		t.Skipf("%v (make %s builds it)", err, target)
	}
	return p
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesOversizedFile(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	path := filepath.Join(t.TempDir(), "big.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, _, stderr := apflow(t, "", "run", "--data-dir", dataDir, "--plugins", plugins, path)
	if code != exitInvalid || !strings.Contains(stderr, "more than") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
}

func TestHooksFromConfig(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	copyFile(t, "../../host/hooks/testdata/set_a.wasm", filepath.Join(plugins, "set_a.wasm"))
	copyFile(t, "../../host/hooks/testdata/fail.wasm", filepath.Join(plugins, "fail.wasm"))
	cfg := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfg, []byte(`{"hooks": ["fail", "set_a", "missing"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--data-dir", dataDir, "--plugins", plugins, "--config", cfg}

	code, stdout, stderr := apflow(t, "", append([]string{"hooks", "list"}, base...)...)
	if code != 0 {
		t.Fatalf("hooks list: %d\n%s", code, stderr)
	}
	for _, want := range []string{"fail", "set_a", "missing", "no: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("hooks list lacks %q:\n%s", want, stdout)
		}
	}

	tree := `[{"id": "h-root", "name": "r", "schemas": {"method": "echo"}, "inputs": {"original": true}}]`
	code, stdout, _ = apflow(t, "", append([]string{"run", "--json", writeTree(t, tree)}, base...)...)
	if code != exitOK {
		t.Fatalf("a failing hook must not fail the task: exit %d", code)
	}
	var root task.TreeNode
	if err := json.Unmarshal([]byte(stdout), &root); err != nil {
		t.Fatal(err)
	}
	// set_a replaced the inputs before echo ran; fail and missing are recorded, not fatal.
	res, _ := root.Task.Result.(map[string]any)
	if res["by"] != "set_a" || root.Task.Inputs["by"] != "set_a" {
		t.Fatalf("pre-hook inputs did not reach the executor and the store: result %v inputs %v", res, root.Task.Inputs)
	}
	joined := strings.Join(root.Task.HookErrors, "\n")
	if !strings.Contains(joined, "fail") || !strings.Contains(joined, "missing") {
		t.Fatalf("hook_errors = %q", root.Task.HookErrors)
	}
}

func TestResumeNothingToRun(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	for _, tc := range []struct {
		name           string
		args           []string
		stdout, stderr string
	}{
		{"text", nil, "nothing to run\n", ""},
		{"--json: stdout holds JSON alone", []string{"--json"}, "[]\n", "nothing to run\n"},
	} {
		code, stdout, stderr := apflow(t, "", append([]string{"resume", "--data-dir", dataDir, "--plugins", plugins}, tc.args...)...)
		if code != exitOK || stdout != tc.stdout || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want stdout %q, stderr with %q", tc.name, code, stdout, stderr, tc.stdout, tc.stderr)
		}
	}
}
