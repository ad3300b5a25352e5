package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestCLIAgainstServer drives the CLI's client mode (--server, --token) against a real
// `apflow serve`: run with progress and --json, the tasks commands, plugins commands, and
// the refusals a user without a valid token gets.
func TestCLIAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs apflow serve")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	dataDir, plugins := setup(t)
	// A file that does not load: plugins list shows it from the server too.
	if err := os.WriteFile(filepath.Join(plugins, "broken.wasm"), []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	const secret = "client-mode-secret-for-tests"
	srv := startServe(t, bin, dataDir, plugins, secret)
	alice := mintToken(t, bin, secret, "alice", false)
	admin := mintToken(t, bin, secret, "ops", true)

	// cli runs the binary in client mode; no --data-dir: it must not touch local state.
	cli := func(t *testing.T, token string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--server", srv.url, "--token", token)...)
		cmd.Env = append(cmd.Environ(), "APFLOW_HOME="+filepath.Join(t.TempDir(), "unused"))
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errOut.String()
	}

	tree := writeTree(t, strings.ReplaceAll(goodTree, `"name": "report",`, `"id": "cli-root", "name": "report",`))
	code, stdout, stderr := cli(t, alice, "run", "--keep-ids", tree)
	if code != exitOK || !strings.Contains(stdout, "3 tasks: 3 completed") || !strings.Contains(stdout, "✓ b completed") {
		t.Fatalf("run --server: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	code, stdout, _ = cli(t, alice, "run", "--json", writeTree(t, failingTree))
	var failed task.TreeNode
	if code != exitFailed || json.Unmarshal([]byte(stdout), &failed) != nil || failed.Task.Name != "report" {
		t.Fatalf("run --server --json of a failing tree: exit %d\n%s", code, stdout)
	}

	code, _, stderr = cli(t, alice, "run", writeTree(t, `[{"name": "r", "schemas": {"method": "nope"}}]`))
	if code != exitInvalid || !strings.Contains(stderr, "nope") {
		t.Fatalf("invalid tree over the server: exit %d, stderr %s", code, stderr)
	}
	// Trees a local run refuses are refused the same way, before their ids become names
	// for the server: two tasks with one id, an id that is not a string.
	for tree, want := range map[string]string{
		`[{"id": "r", "name": "r", "schemas": {"method": "echo"}, "dependencies": ["x"]},
		  {"id": "x", "name": "first", "parent_id": "r", "schemas": {"method": "echo"}},
		  {"id": "x", "name": "second", "parent_id": "r", "schemas": {"method": "echo"}}]`: `duplicate id "x"`,
		`[{"id": 5, "name": "x", "schemas": {"method": "echo"}}]`: "id: must be a string",
	} {
		before := countRootsOf(t, cli, alice)
		if code, _, stderr := cli(t, alice, "run", writeTree(t, tree)); code != exitInvalid || !strings.Contains(stderr, want) {
			t.Errorf("run --server of a tree a local run refuses: exit %d, stderr %s; want exit %d and %q", code, stderr, exitInvalid, want)
		}
		if after := countRootsOf(t, cli, alice); after != before {
			t.Errorf("a refused tree stored %d roots", after-before)
		}
	}

	// --idempotency-key goes to the server: the repeat of a failed run answers it and
	// stores nothing; the same key with another tree is refused.
	countRoots := func() int { return countRootsOf(t, cli, alice) }
	keyedTree := writeTree(t, failingTree)
	code, stdout, stderr = cli(t, alice, "run", "--idempotency-key", "cli-key", keyedTree)
	before := countRoots()
	code2, again, stderr2 := cli(t, alice, "run", "--idempotency-key", "cli-key", keyedTree)
	if code != exitFailed || code2 != exitFailed || !strings.Contains(again, "1 completed, 1 failed, 2 blocked") || countRoots() != before {
		t.Fatalf("keyed runs: exit %d then %d, roots %d then %d\n%s\n%s\n%s\n%s", code, code2, before, countRoots(), stdout, stderr, again, stderr2)
	}
	// The server says the repeat was one, and the command says so as a local run does.
	if notice := `idempotency key "cli-key": tree alice/`; strings.Contains(stdout, notice) || !strings.Contains(again, notice) ||
		!strings.Contains(again, "; not submitting it again\n") {
		t.Errorf("keyed runs: the first printed\n%s\nthe repeat\n%s\nwant the notice from the repeat alone", stdout, again)
	}
	// The repeat watched no run: its summary gives the stored run's time.
	_, listed, _ := cli(t, alice, "tasks", "list", "--json")
	var newest []task.Task
	_ = json.Unmarshal([]byte(listed), &newest)
	_, treeJSON, _ := cli(t, alice, "tasks", "tree", newest[0].ID, "--json")
	var keyed task.TreeNode
	if err := json.Unmarshal([]byte(treeJSON), &keyed); err != nil {
		t.Fatalf("tasks tree --json %q: %v", treeJSON, err)
	}
	if span, ok := runSpan(flatten([]*task.TreeNode{&keyed})); !ok || !strings.Contains(again, fmt.Sprintf("blocked in %s\n", span.Round(time.Millisecond))) {
		t.Errorf("the keyed repeat's summary:\n%s\nwant the stored run's time %v", again, span)
	}
	if code, _, stderr = cli(t, alice, "run", "--idempotency-key", "cli-key", writeTree(t, goodTree)); code != exitInvalid || !strings.Contains(stderr, "idempotency_key") {
		t.Fatalf("keyed run of another tree: exit %d, stderr %s", code, stderr)
	}
	// A tree the server refuses is named by its file, as a local run names it.
	unknown := writeTree(t, `[{"name": "r", "schemas": {"method": "nope"}}]`)
	if code, _, stderr = cli(t, alice, "run", unknown); code != exitInvalid || !strings.HasPrefix(stderr, unknown+": invalid task tree") {
		t.Fatalf("run --server of a tree naming an unknown executor: exit %d, stderr %s", code, stderr)
	}

	tests := []struct {
		name  string
		token string
		args  []string
		want  []string
	}{
		{"list", alice, []string{"tasks", "list"}, []string{"cli-root", "report", "completed"}},
		{"get", alice, []string{"tasks", "get", "cli-root"}, []string{`"id": "alice/cli-root"`, `"user_id": "alice"`}},
		{"tree", alice, []string{"tasks", "tree", "cli-root"}, []string{"✓ report (alice/cli-root) completed", "  ✓ a "}},
		{"children", alice, []string{"tasks", "children", "cli-root"}, []string{"a ", "b "}},
		{"rerun full", alice, []string{"tasks", "rerun", "--full", "cli-root"}, []string{"3 tasks: 3 completed"}},
		{"rerun of a completed tree", alice, []string{"tasks", "rerun", "cli-root"}, []string{"nothing to run: all 3 tasks had completed", "result of report:"}},
		{"rerun --json", alice, []string{"tasks", "rerun", "--json", "-q", "--full", "cli-root"}, []string{`"task": {`, `"children": [`}},
		{"clone", alice, []string{"tasks", "clone", "cli-root"}, []string{"report", "pending"}},
		{"plugins", alice, []string{"plugins", "list"}, []string{"SHA256\n", "echo", "spin", "aggregate_results_executor", "not loaded: broken.wasm: "}},
		{"plugins stats", alice, []string{"plugins", "stats"}, []string{"PLUGIN", "CALLS", "echo "}},
		{"admin sees alice's tasks", admin, []string{"tasks", "list"}, []string{"cli-root"}},
	}
	for _, tc := range tests {
		// In order: rerun and clone act on the tree run above.
		code, stdout, stderr := cli(t, tc.token, tc.args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", tc.name, code, stdout, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", tc.name, w, stdout)
			}
		}
	}

	// A remote cancel lists every task it cancelled, as a local one does: those of a
	// pending copy of the tree.
	code, stdout, stderr = cli(t, alice, "tasks", "clone", "--json", "cli-root")
	var copies []task.Task
	if code != exitOK || json.Unmarshal([]byte(stdout), &copies) != nil || len(copies) != 3 {
		t.Fatalf("tasks clone --json: exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = cli(t, alice, "tasks", "cancel", "--json", copies[0].ID)
	var cancelled []task.Task
	if code != exitOK || json.Unmarshal([]byte(stdout), &cancelled) != nil || len(cancelled) != 3 {
		t.Fatalf("tasks cancel --json of a 3-task tree: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, c := range cancelled {
		if c.Status != task.Cancelled || c.TaskTreeID != copies[0].ID && c.ID != copies[0].ID {
			t.Errorf("cancelled %s: status %s, tree %s; want cancelled, in %s", c.ID, c.Status, c.TaskTreeID, copies[0].ID)
		}
	}
	// A tree whose id is not its root's.
	srv.mustCall(t, alice, "tasks.create", []map[string]any{
		{"id": "tr", "name": "tr", "task_tree_id": "custom", "schemas": map[string]any{"method": "echo"}},
		{"id": "tc", "name": "tc", "parent_id": "tr", "schemas": map[string]any{"method": "echo"}}}, nil)
	code, stdout, stderr = cli(t, alice, "tasks", "cancel", "--json", "tr")
	if code != exitOK || json.Unmarshal([]byte(stdout), &cancelled) != nil || len(cancelled) != 2 {
		t.Fatalf("tasks cancel --json of a tree with its own id: exit %d\n%s\n%s", code, stdout, stderr)
	}

	bob := mintToken(t, bin, secret, "bob", false)
	if code, _, stderr := cli(t, bob, "tasks", "get", "cli-root"); code == 0 || !strings.Contains(stderr, "not found") {
		t.Fatalf("bob must not see alice's task: exit %d, stderr %s", code, stderr)
	}
	if code, stdout, _ := cli(t, bob, "tasks", "list"); code != 0 || strings.Contains(stdout, "cli-root") {
		t.Fatalf("bob's list shows alice's task: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := cli(t, "not-a-token", "tasks", "list"); code == 0 || !strings.Contains(stderr, "401") && !strings.Contains(strings.ToLower(stderr), "unauthorized") {
		t.Fatalf("a bad token must be refused: exit %d, stderr %s", code, stderr)
	}
}

// countRootsOf counts the roots token's user sees, through cli (TestCLIAgainstServer's).
func countRootsOf(t *testing.T, cli func(*testing.T, string, ...string) (int, string, string), token string) int {
	t.Helper()
	code, out, errOut := cli(t, token, "tasks", "list", "--json")
	var roots []task.Task
	if code != exitOK || json.Unmarshal([]byte(out), &roots) != nil {
		t.Fatalf("tasks list --json: exit %d\n%s\n%s", code, out, errOut)
	}
	return len(roots)
}

// TestCLIFollowedRunLosesItsServer: apflow run --server and apflow tasks rerun --server
// whose server goes away before the run ends say what happened. A server that shuts down
// says so, and the client exits as an interrupted run does; a server killed leaves the
// client saying that the connection was lost, that the run goes on, and how to follow it
// (not a bare "unexpected EOF").
func TestCLIFollowedRunLosesItsServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs apflow serve")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	tests := []struct {
		name   string
		rerun  bool // tasks rerun of a stored tree, else run of a file
		signal syscall.Signal
		code   int
		want   []string // in stderr; ROOT and URL stand for the run's root and the server
	}{
		{"run, server shuts down", false, syscall.SIGTERM, exitInterrupted, []string{"interrupted: server is shutting down"}},
		{"rerun, server shuts down", true, syscall.SIGTERM, exitInterrupted, []string{"interrupted: server is shutting down"}},
		{"run, server killed", false, syscall.SIGKILL, exitFailed, []string{"lost the connection to URL while following the run of ROOT",
			"follow it with: apflow tasks tree ROOT --server URL"}},
		{"rerun, server killed", true, syscall.SIGKILL, exitFailed, []string{"lost the connection to URL while following the run of ROOT",
			"follow it with: apflow tasks tree ROOT --server URL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dataDir, plugins := setup(t)
			srv := startServe(t, bin, dataDir, plugins, "", "--drain", "50ms")
			const root = "lost-root"
			slow := map[string]any{"id": root, "name": "slow", "schemas": map[string]any{"method": "spin"}, "inputs": map[string]any{"pad": slowPad}}
			args := []string{"tasks", "rerun", root}
			if tc.rerun {
				srv.mustCall(t, "", "tasks.create", []map[string]any{slow}, nil)
			} else {
				b, _ := json.Marshal([]map[string]any{slow})
				args = []string{"run", "--keep-ids", writeTree(t, string(b))}
			}
			cmd, out, errOut := followedRun(t, bin, srv, args...)
			srv.stop(t, tc.signal, e2eWait)
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			for _, w := range tc.want {
				if w = strings.NewReplacer("ROOT", root, "URL", srv.url).Replace(w); !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
			}
		})
	}
}

// followedRun starts the binary with args and --server srv (a run it follows), and
// returns once the server runs a task; the caller waits for the command.
func followedRun(t *testing.T, bin string, srv *serveProc, args ...string) (cmd *exec.Cmd, out, errOut *bytes.Buffer) {
	t.Helper()
	cmd = exec.Command(bin, append(args, "--server", srv.url)...)
	out, errOut = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(e2eWait)
	for {
		var running map[string]any
		srv.mustCall(t, "", "tasks.running.count", map[string]any{}, &running)
		if running["count"] != 0.0 {
			return cmd, out, errOut
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never started\nstdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
