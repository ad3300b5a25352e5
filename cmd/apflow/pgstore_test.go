package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
	"github.com/apflow-wasm/apflow/internal/pgtest"
)

// pg is the PostgreSQL server of this test binary, started by the first test that needs it.
var pg = pgtest.New()

// TestMain runs the tests on a PostgreSQL of their own (pg.Main); started as a compile
// worker (compileWorker: the test binary is the executable), it compiles instead.
func TestMain(m *testing.M) {
	if code, ok := serveAsCompileWorker(); ok {
		os.Exit(code)
	}
	os.Exit(pg.Main(m))
}

// TestRunDemoOnPostgreSQL runs examples/demo/tree.json through the built binary with
// --store postgres://…, then reads the result back with a different data dir: the
// tasks live in PostgreSQL, not in the data dir.
func TestRunDemoOnPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the demo through real plugins")
	}
	t.Parallel()
	plugins := apflowbin.Modules(t, "build/plugins", "make plugins", "text_stats")
	bin := apflowbin.Build(t)
	dsn := pg.Database(t)
	run := exec.Command(bin, "run", "-q", "--keep-ids", "--store", dsn, "--data-dir", t.TempDir(), "--plugins", plugins,
		"--config", "../../examples/demo/config.json", "../../examples/demo/tree.json")
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("apflow run --store postgres://…: %v\n%s", err, out)
	}

	// Another node (another data dir), the store given through the environment.
	list := exec.Command(bin, "tasks", "list", "--json", "--data-dir", t.TempDir(), "--plugins", plugins)
	list.Env = append(os.Environ(), "APFLOW_STORE="+dsn)
	out, err := list.Output()
	if err != nil {
		t.Fatalf("apflow tasks list with APFLOW_STORE: %v", err)
	}
	var roots []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &roots); err != nil {
		t.Fatalf("tasks list --json: %v\n%s", err, out)
	}
	if len(roots) != 1 || roots[0].ID != "demo-report" || roots[0].Status != "completed" {
		t.Fatalf("roots in the PostgreSQL store: %+v, want demo-report completed", roots)
	}
}

func TestStoreFlagRefusesOtherURLs(t *testing.T) {
	t.Parallel()
	for _, value := range []string{"mysql://u:s3cret@h/db", "host=h password=s3cret"} {
		code, _, stderr := apflow(t, "", "tasks", "list", "--data-dir", t.TempDir(), "--store", value)
		if code != exitInvalid || !strings.Contains(stderr, "store") || !strings.Contains(stderr, "postgres://") {
			t.Errorf("--store %q: exit %d, stderr %q; want %d and a message naming the store and postgres://", value, code, stderr, exitInvalid)
		}
		if strings.Contains(stderr, "s3cret") {
			t.Errorf("--store %q: the message shows the password: %s", value, stderr)
		}
	}
}

// TestServerRefusesLocalStoreFlags checks that --store and --data-dir, which choose a
// local store, are refused with --server (whose store is the server's) instead of being
// silently ignored.
func TestServerRefusesLocalStoreFlags(t *testing.T) {
	t.Parallel()
	for _, flag := range [][]string{{"--store", "postgres://u@127.0.0.1:1/db"}, {"--data-dir", t.TempDir()}} {
		args := append([]string{"tasks", "list", "--server", "http://127.0.0.1:1"}, flag...)
		code, _, stderr := apflow(t, "", args...)
		if code != exitInvalid || !strings.Contains(stderr, flag[0]) || !strings.Contains(stderr, "--server") {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message naming %s and --server", flag, code, stderr, exitInvalid, flag[0])
		}
	}
}

// TestPluginsCommandsReachTheCluster: with --store, apflow plugins add stores the
// module in the database, a worker (apflow run) with a plugins directory of its own
// loads it before it runs its tree, and apflow plugins remove takes it off the next
// worker that starts.
func TestPluginsCommandsReachTheCluster(t *testing.T) {
	t.Parallel()
	dsn := pg.Database(t)
	echo, err := filepath.Abs("../../host/sandbox/testdata/echo.wasm")
	if err != nil {
		t.Fatal(err)
	}
	uploader := []string{"--store", dsn, "--node-id", "uploader", "--data-dir", t.TempDir(), "--plugins", t.TempDir()}
	if code, out, errOut := apflow(t, "", append([]string{"plugins", "add", echo}, uploader...)...); code != 0 {
		t.Fatalf("plugins add --store: exit %d\n%s%s", code, out, errOut)
	}
	workerDir := t.TempDir()
	worker := []string{"--store", dsn, "--node-id", "worker", "--data-dir", t.TempDir(), "--plugins", workerDir}
	tree := writeTree(t, `[{"id": "shared-echo", "name": "echo", "schemas": {"method": "echo"}, "inputs": {"x": 1}}]`)
	if code, out, errOut := apflow(t, "", append([]string{"run", "-q", tree}, worker...)...); code != 0 {
		t.Fatalf("run with the shared echo: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(workerDir, "echo.wasm")); err != nil {
		t.Errorf("the worker's plugins directory: %v", err)
	}
	if code, out, errOut := apflow(t, "", append([]string{"plugins", "remove", "echo"}, uploader...)...); code != 0 {
		t.Fatalf("plugins remove --store: exit %d\n%s%s", code, out, errOut)
	}
	tree = writeTree(t, `[{"id": "shared-echo-2", "name": "echo", "schemas": {"method": "echo"}}]`)
	if code, _, _ := apflow(t, "", append([]string{"run", "-q", tree}, worker...)...); code == 0 {
		t.Error("run after the cluster removed echo: exit 0, want a failure")
	}
	if _, err := os.Stat(filepath.Join(workerDir, "echo.wasm")); !os.IsNotExist(err) {
		t.Errorf("the worker still has echo.wasm after the cluster removed it: %v", err)
	}
}

// TestRunIdempotencyKeyOnPostgreSQL runs a keyed tree on one node of a PostgreSQL store,
// then repeats it from two other nodes: nothing is stored or run again, and every
// repeat reports the first run's outcome. (The nodes run one after the other: hosts
// opened at once in one process race inside wazero's start-up, which the race detector
// reports; concurrent keyed creates are storetest.RunKeys' ConcurrentKeyedCreates.)
func TestRunIdempotencyKeyOnPostgreSQL(t *testing.T) {
	t.Parallel()
	dsn := pg.Database(t)
	_, plugins := setup(t)
	tree := writeTree(t, failingTree)
	run := func(node string) (int, string) {
		code, out, errOut := apflow(t, "", "run", "-q", "--store", dsn, "--data-dir", t.TempDir(), "--plugins", plugins,
			"--node-id", node, "--idempotency-key", "pg-key", tree)
		return code, out + errOut
	}
	if code, out := run("first"); code != exitFailed {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	const n = 2
	codes := make([]int, n)
	outs := make([]string, n)
	for i := range n {
		codes[i], outs[i] = run(fmt.Sprintf("repeat-%d", i))
	}
	for i := range n {
		if codes[i] != exitFailed || !strings.Contains(outs[i], "1 completed, 1 failed, 2 blocked") || !strings.Contains(outs[i], "not submitting it again") {
			t.Errorf("repeat %d: exit %d\n%s", i, codes[i], outs[i])
		}
	}
	code, out, errOut := apflow(t, "", "tasks", "list", "--json", "--all", "--store", dsn, "--data-dir", t.TempDir())
	var tasks []struct {
		Name     string `json:"name"`
		Attempts int    `json:"attempts"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &tasks) != nil || len(tasks) != 4 {
		t.Fatalf("tasks: exit %d %s %s; want the 4 of one tree", code, out, errOut)
	}
	for _, x := range tasks {
		if x.Name == "boom" && x.Attempts != 1 {
			t.Fatalf("boom attempted %d times, want once", x.Attempts)
		}
	}
}
