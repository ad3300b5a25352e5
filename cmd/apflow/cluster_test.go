package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
	"github.com/apflow-wasm/apflow/internal/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The tests of this file run a cluster: several `apflow serve` processes on one
// PostgreSQL database, with a short lease so that a dead or paused node's work moves
// within seconds. Tasks are the delay plugin's (with the clock grant: they wait in real
// time), which logs "delay done" at info level, tagged with the task id, on the node
// that executed the task: the nodes' logs tell which node ran what. The tests look at
// the database directly to know the state of every task, claim and lease.

// The nodes' lease and heartbeat in these tests.
const (
	clusterLease     = "2s"
	clusterHeartbeat = "500ms"
)

// clusterEnv is a cluster of serve processes on one fresh database.
type clusterEnv struct {
	bin, dsn, plugins, config string
	nodes                     []*clusterNode
	db                        *pgxpool.Pool
}

// clusterNode is one `apflow serve` of a cluster.
type clusterNode struct {
	id string
	*serveProc
}

// setupCluster starts n nodes, node1 … nodeN, each with concurrency slots, on a fresh
// database of the package's PostgreSQL server.
func setupCluster(t *testing.T, n, concurrency int) *clusterEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs a cluster of apflow serve processes")
	}
	return setupClusterOn(t, pg.Database(t), n, concurrency)
}

// setupClusterOn is setupCluster on the database at dsn.
func setupClusterOn(t *testing.T, dsn string, n, concurrency int) *clusterEnv {
	t.Helper()
	c := &clusterEnv{dsn: dsn}
	delay, err := filepath.Abs("../../build/plugins/delay.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(delay); err != nil {
		t.Fatalf("the delay plugin is not built (make plugins): %v", err)
	}
	c.bin = apflowbin.Build(t)
	c.plugins = t.TempDir()
	copyFile(t, delay, filepath.Join(c.plugins, "delay.wasm"))
	c.config = filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(c.config, []byte(`{"plugins": {"delay": {"clock": true}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c.db, err = pgxpool.New(context.Background(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.db.Close)
	for i := 1; i <= n; i++ {
		// The first node compiles the plugin into the user's cache; the others find it there.
		c.start(t, fmt.Sprintf("node%d", i), t.TempDir(), concurrency)
	}
	return c
}

// start starts one node.
func (c *clusterEnv) start(t *testing.T, id, dataDir string, concurrency int) *clusterNode {
	t.Helper()
	p := startServe(t, c.bin, dataDir, c.plugins, "", "--store", c.dsn, "--node-id", id,
		"--lease", clusterLease, "--heartbeat", clusterHeartbeat, "--config", c.config,
		"--concurrency", fmt.Sprint(concurrency))
	n := &clusterNode{id: id, serveProc: p}
	c.nodes = append(c.nodes, n)
	return n
}

// delayTree is a root and n children, each child waiting ms milliseconds; ids are
// prefix-root and prefix-0 … prefix-(n-1). The root, without dependencies, runs last.
func delayTree(prefix string, n int, ms int) []map[string]any {
	method := map[string]any{"method": "delay"}
	tasks := []map[string]any{{"id": prefix + "-root", "name": "root", "schemas": method,
		"inputs": map[string]any{"duration_ms": 1, "steps": 1}}}
	for i := range n {
		tasks = append(tasks, map[string]any{"id": fmt.Sprintf("%s-%d", prefix, i), "name": fmt.Sprintf("t%d", i),
			"parent_id": prefix + "-root", "schemas": method,
			"inputs": map[string]any{"duration_ms": ms, "steps": 2}, "limits": map[string]any{"timeout_ms": 300_000}})
	}
	return tasks
}

// run stores tasks through node via and starts their run there, without waiting for
// its end (tasks.execute waits; its answer is not needed, and via may be killed).
func (c *clusterEnv) run(t *testing.T, via *clusterNode, tasks []map[string]any) <-chan json.RawMessage {
	t.Helper()
	via.mustCall(t, "", "tasks.create", tasks, nil)
	root := tasks[0]["id"].(string)
	answer := make(chan json.RawMessage, 1) // the waiting tasks.execute's answer
	go func() {
		res, _ := via.callNoFatal("", "tasks.execute", map[string]any{"task_id": root})
		answer <- res
	}()
	c.waitFor(t, "the run of "+root+" to start on "+via.id, func() bool {
		var owner string
		err := c.db.QueryRow(context.Background(), "SELECT node_id FROM apflow_tree_leases WHERE root_id = $1", root).Scan(&owner)
		return err == nil && owner == via.id
	})
	return answer
}

// waitFor polls cond until it holds, failing the test after e2eWait.
func (c *clusterEnv) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s\n%s\n%s", e2eWait, what, c.state(), c.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// state describes the database's cluster state, for failure messages.
func (c *clusterEnv) state() string {
	var b strings.Builder
	for _, q := range []string{
		"SELECT status, count(*) FROM apflow_tasks GROUP BY status ORDER BY status",
		"SELECT id, status, run_active FROM apflow_tasks WHERE parent_id IS NULL",
		"SELECT coalesce(node_id, '(queued)'), count(*) FROM apflow_claims GROUP BY node_id ORDER BY 1",
		"SELECT tree_id, node_id, expires_at > now() FROM apflow_tree_leases",
		"SELECT node_id, executing, heartbeat_at > now() - interval '2 seconds' FROM apflow_nodes ORDER BY node_id",
		"SELECT id, status, body::text FROM apflow_tasks WHERE status NOT IN ('completed') ORDER BY seq LIMIT 5",
	} {
		fmt.Fprintf(&b, "%s:\n", q)
		rows, err := c.db.Query(context.Background(), q)
		if err != nil {
			fmt.Fprintf(&b, "  %v\n", err)
			continue
		}
		for rows.Next() {
			vals, _ := rows.Values()
			fmt.Fprintf(&b, "  %v\n", vals)
		}
		rows.Close()
	}
	return b.String()
}

// logs returns every node's stderr, for failure messages.
func (c *clusterEnv) logs() string {
	var b strings.Builder
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "--- %s log:\n%s\n", n.id, n.stderr)
	}
	return b.String()
}

// dbTask is a stored task as the tests look at it.
type dbTask struct {
	ID, Status  string
	Attempts    int
	Result      json.RawMessage
	CompletedAt *string
	Body        string
}

// tasks returns every stored task by id.
func (c *clusterEnv) tasks(t *testing.T) map[string]dbTask {
	t.Helper()
	rows, err := c.db.Query(context.Background(), "SELECT id, status, body::text FROM apflow_tasks")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dbTask{}
	var x dbTask
	_, err = pgx.ForEachRow(rows, []any{&x.ID, &x.Status, &x.Body}, func() error {
		var b struct {
			Attempts    int             `json:"attempts"`
			Result      json.RawMessage `json:"result"`
			CompletedAt *string         `json:"completed_at"`
		}
		if err := json.Unmarshal([]byte(x.Body), &b); err != nil {
			return err
		}
		x.Attempts, x.Result, x.CompletedAt = b.Attempts, b.Result, b.CompletedAt
		out[x.ID] = x
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// count returns the result of a count query.
func (c *clusterEnv) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := c.db.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// claimsOf lists the tasks node holds claims on.
func (c *clusterEnv) claimsOf(t *testing.T, node string) []string {
	t.Helper()
	rows, err := c.db.Query(context.Background(), "SELECT task_id FROM apflow_claims WHERE node_id = $1 ORDER BY task_id", node)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// completedCount counts the completed tasks.
func (c *clusterEnv) completedCount(t *testing.T) int {
	return c.count(t, "SELECT count(*) FROM apflow_tasks WHERE status = 'completed'")
}

// waitRunEnded waits until the root is terminal and its run is over: no run marker, no
// lease, no queued or claimed task.
func (c *clusterEnv) waitRunEnded(t *testing.T, root string) {
	t.Helper()
	c.waitFor(t, "the run of "+root+" to end", func() bool {
		return c.count(t, `SELECT count(*) FROM apflow_tasks WHERE id = $1 AND status IN ('completed', 'failed', 'cancelled') AND NOT run_active`, root) == 1 &&
			c.count(t, "SELECT count(*) FROM apflow_claims") == 0 &&
			c.count(t, "SELECT count(*) FROM apflow_tree_leases") == 0
	})
}

// waitChildren waits until the n children of root are completed and none is queued
// or claimed, checks that each has a result, and returns every task of the tree.
func (c *clusterEnv) waitChildren(t *testing.T, root string, n int) map[string]dbTask {
	t.Helper()
	c.waitFor(t, fmt.Sprintf("the %d children of %s to complete", n, root), func() bool {
		return c.count(t, "SELECT count(*) FROM apflow_tasks WHERE tree_id = $1 AND id <> $1 AND status = 'completed'", root) == n &&
			c.count(t, "SELECT count(*) FROM apflow_claims WHERE task_id <> $1", root) == 0
	})
	all := c.tasks(t)
	if len(all) != n+1 {
		t.Errorf("%d tasks stored, want %d", len(all), n+1)
	}
	for id, x := range all {
		if id == root {
			continue
		}
		if x.Status != "completed" || len(x.Result) == 0 || string(x.Result) == "null" || x.CompletedAt == nil {
			t.Errorf("task %s: %s, result %s; want completed with a result\n%s", id, x.Status, x.Result, x.Body)
		}
	}
	return all
}

// waitRootCompleted waits for the end of root's run and checks that the root completed.
func (c *clusterEnv) waitRootCompleted(t *testing.T, root string) {
	t.Helper()
	c.waitRunEnded(t, root)
	if x := c.tasks(t)[root]; x.Status != "completed" || x.Attempts != 1 {
		t.Errorf("root %s: %s after %d attempts, want completed once\n%s", root, x.Status, x.Attempts, x.Body)
	}
}

// doneTask matches the delay plugin's log line of a task it finished.
var doneTask = regexp.MustCompile(`delay done.* task=(\S+)`)

// ranHere returns the tasks whose execution ended on node n (from its log).
func (n *clusterNode) ranHere() map[string]int {
	out := map[string]int{}
	for _, l := range n.stderr.Lines("delay done") {
		if m := doneTask.FindStringSubmatch(l); m != nil {
			out[m[1]]++
		}
	}
	return out
}

// healthz returns a node's GET /healthz.
func (n *clusterNode) healthz(t *testing.T) map[string]any {
	t.Helper()
	code, raw := n.do(t, "", "GET", "/healthz", nil, "")
	var h map[string]any
	if code != 200 || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("%s /healthz: HTTP %d %s", n.id, code, raw)
	}
	return h
}

// TestClusterSharesAWideTree runs 300 tasks submitted to one node of three: every task
// completes once, every node executes a share, and the operator's views (apflow
// cluster status, /healthz, /metrics) show the cluster while it runs.
func TestClusterSharesAWideTree(t *testing.T) {
	c := setupCluster(t, 3, 4)
	const n = 300
	c.run(t, c.nodes[0], delayTree("w", n, 20))

	// node1 joined once its plugin was compiled (it compiled it: the others copied its
	// cache), so it never showed as a dead node while starting.
	var joined time.Time
	if err := c.db.QueryRow(context.Background(), "SELECT started_at FROM apflow_nodes WHERE node_id = 'node1'").Scan(&joined); err != nil {
		t.Fatal(err)
	}
	registered := lineWith(c.nodes[0].stderr.String(), "plugin registered")
	at, err := time.Parse(time.RFC3339Nano, strings.Fields(registered + " ")[0])
	if err != nil {
		t.Fatalf("node1's log: %v\n%s", err, c.nodes[0].stderr)
	}
	if joined.Before(at) {
		t.Errorf("node1 joined the cluster at %s, before its plugin was registered at %s", joined, at)
	}

	// While it runs: the operator's views.
	code, out, stderr := apflow(t, "", "cluster", "status", "--json", "--store", c.dsn, "--lease", clusterLease)
	if code != 0 {
		t.Fatalf("cluster status: exit %d: %s", code, stderr)
	}
	var st clusterView
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("cluster status --json: %v\n%s", err, out)
	}
	if st.NodesAlive != 3 || len(st.Nodes) != 3 || st.SchemaVersion != st.BinarySchemaVersion {
		t.Errorf("cluster status: %d of %d nodes alive, schema %d (binary %d); want 3 of 3, same schema\n%s",
			st.NodesAlive, len(st.Nodes), st.SchemaVersion, st.BinarySchemaVersion, out)
	}
	if len(st.Runs) != 1 || st.Runs[0].RootID != "w-root" || st.Runs[0].NodeID != "node1" {
		t.Errorf("cluster status runs %+v, want w-root's run on node1", st.Runs)
	}
	for _, node := range c.nodes {
		h := node.healthz(t)
		if h["role"] != "node" || h["node_id"] != node.id {
			t.Errorf("%s /healthz: %v, want role node and its node_id", node.id, h)
		}
	}
	_, metrics := c.nodes[1].do(t, "", "GET", "/metrics", nil, "")
	for _, want := range []string{"apflow_cluster_nodes_alive 3\n", `apflow_node_tasks_executing{node="node2"} `,
		`apflow_cluster_node_claims{node="node1"} `, "apflow_cluster_tasks_queued ", `apflow_plugin_calls_total{plugin="delay",`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("node2 /metrics lacks %q:\n%s", want, metrics)
		}
	}

	all := c.waitChildren(t, "w-root", n)
	ranBy := map[string]string{}
	for _, node := range c.nodes {
		ran := node.ranHere()
		t.Logf("%s executed %d tasks", node.id, len(ran))
		if len(ran) == 0 {
			t.Errorf("%s executed no task", node.id)
		}
		for id, times := range ran {
			if other, dup := ranBy[id]; dup || times > 1 {
				t.Errorf("task %s executed more than once (%s, %s ×%d)", id, other, node.id, times)
			}
			ranBy[id] = node.id
		}
	}
	for id, x := range all {
		if _, ok := ranBy[id]; (!ok || x.Attempts != 1) && id != "w-root" {
			t.Errorf("task %s: attempts %d, executed by %q; want 1 attempt on one node", id, x.Attempts, ranBy[id])
		}
	}
	c.waitRootCompleted(t, "w-root")
}

// TestClusterSurvivesDatabaseRestart restarts PostgreSQL (its own server) while three
// nodes run a tree: the nodes reconnect, the run finishes, every task completed with
// one recorded result, and nothing is left claimed or leased.
func TestClusterSurvivesDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a cluster of apflow serve processes")
	}
	own := pgtest.New()
	t.Cleanup(func() { _ = own.Stop() })
	c := setupClusterOn(t, own.Database(t), 3, 2)
	const n = 60
	c.run(t, c.nodes[0], delayTree("pr", n, 400))
	// A client follows the run on another node through the restart. The other nodes
	// learn of it at once (a notice), or within their refresh interval (2 s): events
	// are checked from then on.
	events := c.nodes[2].openSSE(t, "", http.MethodGet, "/events?root_task_id=pr-root", nil)
	time.Sleep(2500 * time.Millisecond)
	before := map[string]bool{}
	done := 0
	for id, x := range c.tasks(t) {
		before[id] = x.Status == "completed"
		if before[id] {
			done++
		}
	}
	c.waitFor(t, "a few more tasks completed", func() bool { return c.completedCount(t) >= done+6 })
	c.db.Reset() // the pool's connections die with the server
	own.Restart(t)
	t.Logf("PostgreSQL restarted with %d tasks completed", c.completedCount(t))
	all := c.waitChildren(t, "pr-root", n)
	frames := collect(t, events)
	seen := map[string]bool{}
	for _, f := range frames {
		if f.typ() == "task_completed" {
			seen[f.str("task_id")] = true
		}
	}
	var missed []string
	for id := range all {
		if id != "pr-root" && !before[id] && !seen[id] {
			missed = append(missed, id)
		}
	}
	if len(missed) > 0 {
		slices.Sort(missed)
		t.Errorf("the follower on node3 got no task_completed for %v\n%s", missed, c.logs())
	}
	if last := frames[len(frames)-2]; last.typ() != "final" || last.str("status") != "completed" {
		t.Errorf("the follower's stream ends with %v, want the final frame of the completed run", last)
	}
	for id, x := range all {
		if id != "pr-root" && (x.Attempts < 1 || x.Attempts > 2) {
			t.Errorf("task %s: %d attempts, want 1, or 2 when its execution was cut by the restart", id, x.Attempts)
		}
	}
	c.waitRootCompleted(t, "pr-root")
	if left := c.count(t, "SELECT (SELECT count(*) FROM apflow_claims) + (SELECT count(*) FROM apflow_tree_leases) + (SELECT count(*) FROM apflow_settled)"); left != 0 {
		t.Errorf("%d claims, leases or feed entries left after the run\n%s", left, c.state())
	}
}

// TestClusterFollowerOutlivesItsCoordinator: a client following a run on another node
// keeps following when the coordinator stops normally (its run ends interrupted there,
// and another node takes it over): the stream ends with the run, completed.
func TestClusterFollowerOutlivesItsCoordinator(t *testing.T) {
	c := setupCluster(t, 3, 2)
	const n = 40
	c.run(t, c.nodes[0], delayTree("fo", n, 300))
	events := c.nodes[2].openSSE(t, "", http.MethodGet, "/events?root_task_id=fo-root", nil)
	c.waitFor(t, "a few tasks completed", func() bool { return c.completedCount(t) >= 4 })
	stopAt := time.Now()
	c.nodes[0].stop(t, syscall.SIGTERM, 40*time.Second)
	t.Logf("node1 stopped in %s", time.Since(stopAt))
	c.waitChildren(t, "fo-root", n)
	t.Logf("children done at %s", time.Since(stopAt))
	c.waitRunEnded(t, "fo-root")
	t.Logf("run ended at %s", time.Since(stopAt))
	c.waitRootCompleted(t, "fo-root")
	frames := collect(t, events)
	t.Logf("stream ended at %s", time.Since(stopAt))
	if last := frames[len(frames)-2]; last.typ() != "final" || last.str("status") != "completed" {
		t.Errorf("the follower's stream ends with %v, want the final frame of the completed run\n%s\n%s", last, c.state(), c.logs())
	}
}

// TestClusterKillOwnerTakesOver kills (SIGKILL) the node that started and coordinates a
// run: another node takes the run over, every task completes, and what had completed
// before the kill is not run again.
func TestClusterKillOwnerTakesOver(t *testing.T) {
	c := setupCluster(t, 3, 3)
	const n = 45
	owner := c.nodes[0]
	c.run(t, owner, delayTree("k", n, 300))
	c.waitFor(t, "10 tasks to complete", func() bool { return c.completedCount(t) >= 10 })
	if err := owner.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-owner.exited
	before := c.tasks(t)

	all := c.waitChildren(t, "k-root", n)
	for id, x := range before {
		if x.Status == "completed" && all[id].Body != x.Body {
			t.Errorf("task %s completed before the kill and was written again:\nbefore %s\nafter  %s", id, x.Body, all[id].Body)
		}
	}
	took := 0
	for _, node := range c.nodes[1:] {
		took += len(node.stderr.Lines("took over a run"))
	}
	if took == 0 {
		t.Errorf("no node logged taking the run over\n%s", c.logs())
	}
	c.waitRootCompleted(t, "k-root")
}

// TestClusterKillWorkerRunsItsTasksElsewhere kills (SIGKILL) a node that is not the
// run's coordinator while it executes tasks: they run again on the other nodes (attempt
// 2) and the run completes.
func TestClusterKillWorkerRunsItsTasksElsewhere(t *testing.T) {
	c := setupCluster(t, 3, 3)
	const n = 45
	worker := c.nodes[2]
	c.run(t, c.nodes[0], delayTree("x", n, 400))
	c.waitFor(t, worker.id+" to hold claims", func() bool { return len(c.claimsOf(t, worker.id)) > 0 })
	if err := worker.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-worker.exited
	lost := c.claimsOf(t, worker.id) // dead: nothing of its changes any more
	if len(lost) == 0 {
		t.Fatalf("%s held no claim when killed", worker.id)
	}

	all := c.waitChildren(t, "x-root", n)
	for _, id := range lost {
		if all[id].Attempts != 2 {
			t.Errorf("task %s, claimed by the killed node: attempts %d, want 2", id, all[id].Attempts)
		}
		ranOn := ""
		for _, node := range c.nodes[:2] {
			if node.ranHere()[id] > 0 {
				ranOn = node.id
			}
		}
		if ranOn == "" {
			t.Errorf("task %s, claimed by the killed node, was not executed by another node", id)
		}
	}
	c.waitRootCompleted(t, "x-root")
}

// TestClusterPausedNodeWritesNothing pauses (SIGSTOP) the node coordinating a run while
// it executes tasks, past its lease: the others take the run and its tasks over and
// finish it. Resumed (SIGCONT), the node must write nothing: every task keeps what the
// others wrote, and its log says its outcomes were discarded.
func TestClusterPausedNodeWritesNothing(t *testing.T) {
	c := setupCluster(t, 3, 3)
	const n = 30
	paused := c.nodes[0]
	c.run(t, paused, delayTree("p", n, 600))
	var held []string
	c.waitFor(t, paused.id+" to hold claims", func() bool {
		held = c.claimsOf(t, paused.id)
		return len(held) > 0
	})
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = paused.cmd.Process.Signal(syscall.SIGCONT) })

	c.waitChildren(t, "p-root", n)
	c.waitRootCompleted(t, "p-root")
	done := c.tasks(t)
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The resumed node finds its executions' claims and its tree lease lost.
	c.waitFor(t, paused.id+" to log its outcomes discarded", func() bool {
		return len(paused.stderr.Lines("outcome discarded")) > 0
	})
	c.waitFor(t, paused.id+" to learn it lost the run", func() bool {
		return len(paused.stderr.Lines("lost the lease of a run")) > 0
	})
	c.waitFor(t, paused.id+" to hold nothing", func() bool {
		return c.count(t, "SELECT executing FROM apflow_nodes WHERE node_id = $1", paused.id) == 0
	})
	after := c.tasks(t)
	for id, x := range done {
		if after[id].Body != x.Body {
			t.Errorf("task %s was written by the resumed node:\nbefore %s\nafter  %s", id, x.Body, after[id].Body)
		}
	}
	for _, id := range held {
		if done[id].Attempts != 2 {
			t.Errorf("task %s, executing on the paused node: attempts %d, want 2", id, done[id].Attempts)
		}
	}
}

// TestClusterWaitingExecuteFollowsATakeover: a client waiting on tasks.execute at the
// node that started the run hears of the run's real end when that node loses the run
// (paused past its lease, then resumed while another node runs it), not that it did not
// run.
func TestClusterWaitingExecuteFollowsATakeover(t *testing.T) {
	c := setupCluster(t, 3, 3)
	paused := c.nodes[0]
	answer := c.run(t, paused, delayTree("m", 30, 600))
	c.waitFor(t, paused.id+" to hold claims", func() bool { return len(c.claimsOf(t, paused.id)) > 0 })
	if err := paused.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = paused.cmd.Process.Signal(syscall.SIGCONT) })
	c.waitFor(t, "another node to take the run over", func() bool {
		var owner string
		err := c.db.QueryRow(context.Background(), "SELECT node_id FROM apflow_tree_leases WHERE root_id = 'm-root'").Scan(&owner)
		return err == nil && owner != paused.id
	})
	if err := paused.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-answer:
		var a map[string]any
		if json.Unmarshal(res, &a) != nil || a["status"] != "completed" {
			t.Errorf("the waiting tasks.execute answered %s, want the run's end: completed\n%s", res, c.logs())
		}
	case <-time.After(e2eWait):
		t.Fatalf("the waiting tasks.execute never answered\n%s", c.logs())
	}
	c.waitRootCompleted(t, "m-root")
}

// TestClusterCancelReachesTheExecutingNode cancels, through node3, a task that node2
// executes in a run node1 coordinates: node2 stops it, and only it.
func TestClusterCancelReachesTheExecutingNode(t *testing.T) {
	c := setupCluster(t, 3, 1)
	owner, executor, via := c.nodes[0], c.nodes[1], c.nodes[2]
	c.run(t, owner, delayTree("c", 3, 120_000))
	// One slot per node, three two-minute tasks: each node executes one.
	var target string
	c.waitFor(t, "each node to execute one task", func() bool {
		for _, node := range c.nodes {
			if len(c.claimsOf(t, node.id)) != 1 ||
				c.count(t, "SELECT executing FROM apflow_nodes WHERE node_id = $1", node.id) != 1 {
				return false
			}
		}
		target = c.claimsOf(t, executor.id)[0]
		return true
	})
	var res []map[string]any
	via.mustCall(t, "", "tasks.cancel", map[string]any{"task_ids": []string{target}}, &res)
	if len(res) != 1 || res[0]["status"] == "error" {
		t.Fatalf("tasks.cancel of %s through %s: %v", target, via.id, res)
	}
	// The executing node's heartbeat reports its executions: none once it stopped the
	// task (its delay would last two minutes).
	c.waitFor(t, executor.id+" to stop executing "+target, func() bool {
		return c.count(t, "SELECT executing FROM apflow_nodes WHERE node_id = $1", executor.id) == 0
	})
	all := c.tasks(t)
	if all[target].Status != "cancelled" {
		t.Errorf("%s is %s, want cancelled\n%s", target, all[target].Status, all[target].Body)
	}
	if executor.ranHere()[target] > 0 {
		t.Errorf("%s logged %s's delay as done: it was not stopped", executor.id, target)
	}
	for _, node := range []*clusterNode{owner, via} {
		if got := c.claimsOf(t, node.id); len(got) != 1 || got[0] == target {
			t.Errorf("%s's claims after the cancel of %s: %v, want its own task still running", node.id, target, got)
		}
	}

	// Cancelling the rest ends the run.
	var rest []string
	for id, x := range all {
		if x.Status == "in_progress" {
			rest = append(rest, id)
		}
	}
	via.mustCall(t, "", "tasks.cancel", map[string]any{"task_ids": rest}, &res)
	c.waitRunEnded(t, "c-root")
}

// TestClusterEventsOnAnyNode: GET /events on a node that does not coordinate the run
// streams the run's events from every node: each task's end, the starts of the tasks
// that begin after the client connected (executed on either node), then the final frame.
func TestClusterEventsOnAnyNode(t *testing.T) {
	c := setupCluster(t, 2, 1)
	owner, other := c.nodes[0], c.nodes[1]
	c.run(t, owner, delayTree("ev", 4, 1500))
	atOwner := owner.openSSE(t, "", http.MethodGet, "/events?root_task_id=ev-root", nil)
	frames := collect(t, other.openSSE(t, "", http.MethodGet, "/events?root_task_id=ev-root", nil))
	// The coordinator's stream carries the log lines of the tasks the other node ran too,
	// though they come relayed, after the run's end there.
	logged := map[string]bool{}
	for _, f := range collect(t, atOwner) {
		if f.typ() == "task_log" {
			logged[f.str("task_id")] = true
		}
	}
	for i := range 4 {
		if id := fmt.Sprintf("ev-%d", i); !logged[id] {
			t.Errorf("the coordinator's stream has no task_log frame of %s (it has %v)", id, logged)
		}
	}
	seen := map[string][]string{}
	for _, f := range frames {
		seen[f.str("task_id")] = append(seen[f.str("task_id")], f.typ())
	}
	starts := 0
	for i := range 4 {
		id := fmt.Sprintf("ev-%d", i)
		got := seen[id]
		if len(got) == 0 || got[len(got)-1] != "task_completed" {
			t.Errorf("%s: frames %v, want its task_completed last", id, got)
		}
		if slices.Contains(got, "task_start") {
			starts++
		}
	}
	// One slot per node: two tasks start after the first two end, well after the client
	// connected.
	if starts < 2 {
		t.Errorf("%d task_start frames, want the second wave's two at least; frames: %v", starts, seen)
	}
	last := frames[len(frames)-2]
	if last.typ() != "final" || last.str("status") != "completed" || frames[len(frames)-1].typ() != "stream_end" {
		t.Errorf("the stream ends with %v, %v; want the final frame (completed), then stream_end", last, frames[len(frames)-1])
	}
	ran := 0
	for _, n := range c.nodes {
		if len(n.ranHere()) > 0 {
			ran++
		}
	}
	if ran != 2 {
		t.Errorf("%d nodes executed tasks, want both", ran)
	}
}

// TestClusterStatusCommand checks apflow cluster status without running nodes: its
// refusals, and its views of node rows as a database holds them.
func TestClusterStatusCommand(t *testing.T) {
	t.Parallel()
	// Without a PostgreSQL store it says what it needs.
	code, _, stderr := apflow(t, "", "cluster", "status", "--data-dir", t.TempDir())
	if code != exitInvalid || !strings.Contains(stderr, "--store") || !strings.Contains(stderr, "APFLOW_STORE") {
		t.Errorf("without --store: exit %d, %q; want %d and a message naming --store", code, stderr, exitInvalid)
	}
	code, _, stderr = apflow(t, "", "cluster", "status", "--store", "mysql://u:s3cret@h/db")
	if code != exitInvalid || !strings.Contains(stderr, "postgres://") || strings.Contains(stderr, "s3cret") {
		t.Errorf("--store mysql://…: exit %d, %q", code, stderr)
	}

	dsn := pg.Database(t)
	// A database no node ran on: refused, and left empty.
	code, _, stderr = apflow(t, "", "cluster", "status", "--store", dsn)
	if code != exitFailed || !strings.Contains(stderr, "no apflow schema") {
		t.Errorf("on an empty database: exit %d, %q", code, stderr)
	}
	if code, _, stderr := apflow(t, "", "tasks", "list", "--store", dsn, "--data-dir", t.TempDir()); code != 0 {
		t.Fatalf("tasks list (migrates the schema): exit %d: %s", code, stderr)
	}
	db, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var schema int
	if err := db.QueryRow(t.Context(), "SELECT max(version) FROM apflow_schema_version").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	// Three nodes: one alive on this schema; one of an older release (no lease
	// recorded: the default lease judges it) and one with a two-minute lease, both of
	// which heartbeated a minute ago.
	if _, err := db.Exec(t.Context(), `INSERT INTO apflow_nodes (node_id, version, schema_version, concurrency, executing, lease_seconds)
		VALUES ('fresh', '0.1.0', $1, 8, 3, 8), ('old', '0.0.9', $2, 4, 0, NULL), ('slow', '0.1.0', $1, 1, 0, 120)`, schema, schema-1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(t.Context(), "UPDATE apflow_nodes SET heartbeat_at = now() - interval '1 minute' WHERE node_id IN ('old', 'slow')"); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := apflow(t, "", "cluster", "status", "--json", "--store", dsn)
	if code != 0 {
		t.Fatalf("cluster status --json: exit %d: %s", code, stderr)
	}
	var st clusterView
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if st.NodesAlive != 2 || len(st.Nodes) != 3 || st.SchemaVersion != schema || st.Queued != 0 || len(st.Runs) != 0 {
		t.Fatalf("cluster status --json: %s", out)
	}
	fresh, old, slow := st.Nodes[0], st.Nodes[1], st.Nodes[2]
	if slow.ID != "slow" || !slow.Alive || slow.LeaseSeconds != 120 || old.LeaseSeconds != 8 {
		t.Errorf("node slow: %+v, want alive within its own two-minute lease; old's lease %v, want the default 8", slow, old.LeaseSeconds)
	}
	if fresh.ID != "fresh" || !fresh.Alive || fresh.SchemaMismatch || fresh.Executing != 3 || fresh.Concurrency != 8 {
		t.Errorf("node fresh: %+v", fresh)
	}
	if old.ID != "old" || old.Alive || !old.SchemaMismatch || old.HeartbeatAge < 59 {
		t.Errorf("node old: %+v, want not alive, schema mismatch, heartbeat a minute old", old)
	}
	code, out, _ = apflow(t, "", "cluster", "status", "--store", dsn)
	if code != 0 || !strings.Contains(out, "2 of 3 nodes alive") || !strings.Contains(lineWith(out, "old "), fmt.Sprintf("%d !", schema-1)) ||
		!strings.Contains(out, fmt.Sprintf("node old runs schema version %d, the database is at %d", schema-1, schema)) {
		t.Errorf("cluster status: exit %d\n%s", code, out)
	}

	// A node joining warns about a live node of another schema version.
	if _, err := db.Exec(t.Context(), "UPDATE apflow_nodes SET heartbeat_at = now() WHERE node_id = 'old'"); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = apflow(t, "", "tasks", "list", "--store", dsn, "--data-dir", t.TempDir())
	if code != 0 || !strings.Contains(lineWith(stderr, "another schema version"), "node=old") {
		t.Errorf("joining next to a node of schema %d: exit %d, stderr %q; want a warning naming it", schema-1, code, stderr)
	}

	// A database a newer apflow migrated: status and serve refuse, naming both versions.
	if _, err := db.Exec(t.Context(), "INSERT INTO apflow_schema_version (version, name) VALUES ($1, 'from the future')", schema+1); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"cluster", "status", "--store", dsn},
		{"serve", "--addr", "127.0.0.1:0", "--store", dsn, "--data-dir", t.TempDir()},
	} {
		code, _, stderr := apflow(t, "", args...)
		if code != exitFailed || !strings.Contains(stderr, fmt.Sprintf("version %d", schema+1)) || !strings.Contains(stderr, fmt.Sprintf("up to %d", schema)) {
			t.Errorf("%s on a newer schema: exit %d, %q; want %d and both versions named", args[0], code, stderr, exitFailed)
		}
	}
}

// TestClusterResumeFollowsOnlyItsOwnRuns: `apflow resume --store` takes over what no
// live node holds and follows those runs only; a run another live node coordinates is
// not its to wait for.
func TestClusterResumeFollowsOnlyItsOwnRuns(t *testing.T) {
	t.Parallel()
	c := setupCluster(t, 1, 1)
	c.run(t, c.nodes[0], delayTree("busy", 1, 600_000)) // node1 runs it for ten minutes
	c.waitFor(t, "node1's run to start", func() bool {
		return c.count(t, "SELECT count(*) FROM apflow_tree_leases WHERE node_id = 'node1'") == 1
	})
	done := make(chan struct{})
	var code int
	var stderr string
	go func() {
		defer close(done)
		code, _, stderr = apflow(t, "", "resume", "-q", "--store", c.dsn, "--node-id", "resumer",
			"--data-dir", t.TempDir(), "--plugins", c.plugins, "--config", c.config)
	}()
	select {
	case <-done:
		if code != 0 {
			t.Fatalf("resume: exit %d: %s", code, stderr)
		}
	case <-time.After(4 * time.Minute): // a loaded machine compiles the plugin slowly
		t.Fatal("apflow resume waited for a run node1 coordinates")
	}
}

// TestClusterSharesUploadedPlugins uploads a plugin over HTTP to node1 of two nodes with
// plugins directories of their own: node2 loads it from the database, and once node1
// has left, a task of that method started on node2 (so node2 executes it) completes.
// A removal through node2 tombstones it in the database and removes node2's file.
func TestClusterSharesUploadedPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a cluster of apflow serve processes")
	}
	wasm, err := os.ReadFile("../../build/plugins/minimal_wat.wasm")
	if err != nil {
		t.Fatalf("the minimal_wat plugin is not built (make kits): %v", err)
	}
	const id = "minimal_wat"
	hash := sha256Hex(wasm)
	c := &clusterEnv{dsn: pg.Database(t), bin: apflowbin.Build(t)}
	if c.db, err = pgxpool.New(context.Background(), c.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.db.Close)
	dirs := map[string]string{}
	for _, name := range []string{"node1", "node2"} {
		dirs[name] = t.TempDir()
		p := startServe(t, c.bin, t.TempDir(), dirs[name], "", "--store", c.dsn, "--node-id", name,
			"--lease", clusterLease, "--heartbeat", clusterHeartbeat)
		c.nodes = append(c.nodes, &clusterNode{id: name, serveProc: p})
	}
	n1, n2 := c.nodes[0], c.nodes[1]

	code, raw := n1.do(t, "", http.MethodPost, "/plugins?name="+id, wasm, "application/wasm")
	if code != http.StatusCreated {
		t.Fatalf("POST /plugins to node1: HTTP %d %s", code, raw)
	}
	n2.waitPlugin(t, id, hash)
	if _, err := os.Stat(filepath.Join(dirs["node2"], id+".wasm")); err != nil {
		t.Errorf("node2's plugins directory: %v", err)
	}
	if n := c.count(t, "SELECT count(*) FROM apflow_plugins WHERE plugin_id = $1 AND sha256 = $2 AND NOT removed AND changed_by = 'node1'", id, hash); n != 1 {
		t.Errorf("apflow_plugins: %d rows for %s uploaded by node1, want 1", n, id)
	}
	if n1.stop(t, syscall.SIGTERM, e2eWait) != 0 {
		t.Fatalf("node1 did not stop cleanly\n%s", n1.stderr)
	}

	inputs := map[string]any{"greeting": "hello"}
	n2.mustCall(t, "", "tasks.create", []map[string]any{{"id": "shared-1", "name": "echo",
		"schemas": map[string]any{"method": id}, "inputs": inputs}}, nil)
	go func() { _, _ = n2.callNoFatal("", "tasks.execute", map[string]any{"task_id": "shared-1"}) }()
	var done wireTask
	c.waitFor(t, "task shared-1 to complete on node2", func() bool {
		done = n2.getTask(t, "", "shared-1")
		if done.Status == "failed" || done.Status == "cancelled" {
			t.Fatalf("task shared-1: %s: %s\n%s", done.Status, done.errorText(), c.logs())
		}
		return done.Status == "completed"
	})
	if got, _ := json.Marshal(done.Result); string(got) != `{"greeting":"hello"}` {
		t.Errorf("task shared-1's result: %s, want its inputs echoed", got)
	}

	if code, raw := n2.do(t, "", http.MethodDelete, "/plugins/"+id, nil, ""); code != http.StatusOK {
		t.Fatalf("DELETE /plugins/%s on node2: HTTP %d %s", id, code, raw)
	}
	if n := c.count(t, "SELECT count(*) FROM apflow_plugins WHERE plugin_id = $1 AND removed AND changed_by = 'node2'", id); n != 1 {
		t.Errorf("apflow_plugins: no tombstone of %s by node2", id)
	}
	if _, err := os.Stat(filepath.Join(dirs["node2"], id+".wasm")); !os.IsNotExist(err) {
		t.Errorf("node2's plugins directory still has %s.wasm: %v", id, err)
	}
}

// TestClusterLogsFollowATreeWithItsOwnID: tasks logs --follow through the cluster's
// store follows, to its last line, a task whose tree has an id of its own (not its
// root's) while its run goes on.
func TestClusterLogsFollowATreeWithItsOwnID(t *testing.T) {
	c := setupCluster(t, 1, 2)
	tasks := delayTree("tf", 1, 3000)
	for _, x := range tasks {
		x["task_tree_id"] = "tree-of-tf"
	}
	c.run(t, c.nodes[0], tasks)
	code, stdout, stderr := apflow(t, "", "tasks", "logs", "tf-0", "--follow", "--store", c.dsn, "--data-dir", t.TempDir())
	if code != exitOK || strings.Contains(stderr, "not following") || !strings.Contains(stdout, "done") {
		t.Errorf("logs --follow: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if x := c.tasks(t)["tf-0"]; x.Status != "completed" {
		t.Errorf("tf-0 is %s when --follow ended, want completed", x.Status)
	}
}

// TestClusterRunInterruptedLeavesItsRunToTheCluster: apflow run --store interrupted
// says that the cluster's live nodes take its run over (not that its tasks wait for a
// resume), and one does and finishes it.
func TestClusterRunInterruptedLeavesItsRunToTheCluster(t *testing.T) {
	c := setupCluster(t, 1, 4)
	data, err := json.Marshal(delayTree("ri", 4, 1500))
	if err != nil {
		t.Fatal(err)
	}
	tree := writeTree(t, string(data))
	cmd := exec.Command(c.bin, "run", "-q", "--keep-ids", "--store", c.dsn, "--node-id", "runner", "--lease", clusterLease,
		"--heartbeat", clusterHeartbeat, "--plugins", c.plugins, "--config", c.config, "--data-dir", t.TempDir(), tree)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "a task of ri-root to run", func() bool {
		return c.count(t, "SELECT count(*) FROM apflow_claims") > 0
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("run --store interrupted: %v, want exit %d\n%s", err, exitInterrupted, stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, "the cluster's live nodes take the run over") ||
		!strings.Contains(msg, "apflow tasks tree ri-root --store") || strings.Contains(msg, "unfinished tasks are pending") {
		t.Fatalf("run --store interrupted says:\n%s", msg)
	}
	c.waitRootCompleted(t, "ri-root")
}
