package engine

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/pgstore"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/pgtest"
)

// The engine's tests run on memstore, one node. With APFLOW_ENGINE_CLUSTER=1 every test
// that uses setup runs instead on PostgreSQL as a node of a cluster (Config.Cluster):
// the same rules must hold when runs are coordinated under tree leases and tasks are
// claimed from the database (make test-cluster-engine; CI runs it).
const clusterEnv = "APFLOW_ENGINE_CLUSTER"

var pg = pgtest.New()

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// clusterMode reports whether setup builds cluster nodes.
func clusterMode() bool { return os.Getenv(clusterEnv) != "" }

// clusterNode opens a store and a node on a database (a fresh one when dsn is ""),
// closed when t ends; short leases keep takeover tests quick.
func clusterNode(t *testing.T, dsn, id string) (*pgstore.Store, *pgstore.Node, string) {
	t.Helper()
	return clusterNodeLease(t, dsn, id, 4*time.Second, 250*time.Millisecond)
}

// clusterNodeLease is clusterNode with the given lease and heartbeat intervals.
func clusterNodeLease(t *testing.T, dsn, id string, lease, heartbeat time.Duration) (*pgstore.Store, *pgstore.Node, string) {
	t.Helper()
	if dsn == "" {
		dsn = pg.Database(t)
	}
	st, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	n, err := pgstore.Join(context.Background(), st, pgstore.NodeOptions{ID: id, Lease: lease, Heartbeat: heartbeat})
	if err != nil {
		t.Fatal(err)
	}
	return st, n, dsn
}

// nodes returns n engines, each a cluster node on its own store of one fresh database,
// sharing nothing but the database; each has its own fake catalog.
func nodes(t *testing.T, n int, opts ...option) []*env {
	t.Helper()
	return nodesLease(t, n, 4*time.Second, 250*time.Millisecond, opts...)
}

// nodesLease is nodes with the given lease and heartbeat intervals.
func nodesLease(t *testing.T, n int, lease, heartbeat time.Duration, opts ...option) []*env {
	t.Helper()
	var dsn string
	out := make([]*env, n)
	for i := range out {
		var st *pgstore.Store
		var node *pgstore.Node
		st, node, dsn = clusterNodeLease(t, dsn, fmt.Sprintf("node-%d", i+1), lease, heartbeat)
		out[i] = setupStore(t, st, append([]option{withCluster(node)}, opts...)...)
	}
	return out
}

// wideSpecs is a root over n children that sleep ms each.
func wideSpecs(n, ms int) []spec {
	specs := []spec{{id: "w"}}
	for i := range n {
		specs = append(specs, spec{id: fmt.Sprintf("w-%03d", i), parent: "w", params: map[string]any{"sleep_ms": ms}})
	}
	return specs
}

// TestClusterNodesShareATree: a tree started on one node runs on every node; each task
// executes once, and a dependent gets its dependency's result whichever node ran it.
func TestClusterNodesShareATree(t *testing.T) {
	t.Parallel()
	vs := nodes(t, 3, withConcurrency(2))
	specs := append(wideSpecs(30, 30), spec{id: "w-sum", parent: "w", deps: req("w-000", "w-001"), method: builtin.AggregateResultsID})
	vs[0].create(specs...)
	res := vs[0].run("w", RunOptions{})
	if res.Status != task.Completed || res.Counts[task.Completed] != 32 {
		t.Fatalf("run ended %s with %v", res.Status, res.Counts)
	}
	total := 0
	for i, v := range vs {
		v.cat.mu.Lock()
		n := len(v.cat.order)
		for id, k := range v.cat.executions {
			if k != 1 {
				t.Errorf("node %d executed %s %d times", i+1, id, k)
			}
		}
		v.cat.mu.Unlock()
		if n == 0 {
			t.Errorf("node %d executed nothing", i+1)
		}
		total += n
	}
	if total != 31 {
		t.Errorf("the nodes executed %d tasks, want 31 (the children, then the root)", total)
	}
	sum := vs[2].get("w-sum")
	if s, _ := sum.Result.(map[string]any)["summary"].(string); !strings.Contains(s, "w-000") || !strings.Contains(s, "w-001") {
		t.Errorf("w-sum's result %v does not carry its dependencies' results", sum.Result)
	}
	for _, x := range []string{"w", "w-000", "w-sum"} {
		if got := vs[1].get(x); got.Attempts != 1 {
			t.Errorf("%s attempts %d, want 1", x, got.Attempts)
		}
	}
}

// TestClusterAlreadyRunningAcrossNodes: a tree running on one node cannot start on
// another, and cannot be updated or deleted through it.
func TestClusterAlreadyRunningAcrossNodes(t *testing.T) {
	t.Parallel()
	vs := nodes(t, 2)
	vs[0].create(spec{id: "g"}, spec{id: "g-1", parent: "g", params: map[string]any{"gate": true}})
	r, err := vs[0].e.Start(t.Context(), "g", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vs[1].e.Start(t.Context(), "g", RunOptions{}); apferr.CodeOf(err) != apferr.AlreadyExecuting {
		t.Fatalf("second node's start: %v, want already running", err)
	}
	if _, err := vs[1].e.Update(t.Context(), "g-1", func(t *task.Task) error { t.Name = "x"; return nil }); apferr.CodeOf(err) != apferr.AlreadyExecuting {
		t.Fatalf("second node's update: %v, want refused", err)
	}
	if _, err := vs[1].e.Delete(t.Context(), "g", nil); apferr.CodeOf(err) != apferr.CannotDelete {
		t.Fatalf("second node's delete: %v, want refused", err)
	}
	runs := vs[1].e.Running()
	if len(runs) != 1 || runs[0].RootID != "g" || runs[0].NodeID != "node-1" {
		t.Fatalf("second node sees runs %+v, want g on node-1", runs)
	}
	for _, v := range vs {
		close(v.cat.gate)
	}
	<-r.Done()
}

// TestClusterCancelStopsThePluginOnAnotherNode: a cancel sent to any node stops the
// executor running on another, and the run ends cancelled.
func TestClusterCancelStopsThePluginOnAnotherNode(t *testing.T) {
	t.Parallel()
	vs := nodes(t, 2, withConcurrency(1))
	vs[0].create(spec{id: "c"}, spec{id: "c-1", parent: "c", params: map[string]any{"block": true}},
		spec{id: "c-2", parent: "c", params: map[string]any{"block": true}})
	r, err := vs[0].e.Start(t.Context(), "c", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both children running", func() bool {
		return vs[0].get("c-1").Status == task.InProgress && vs[0].get("c-2").Status == task.InProgress
	})
	if _, err := vs[1].e.Cancel(t.Context(), "c", "stop"); err != nil {
		t.Fatal(err)
	}
	<-r.Done()
	for _, id := range []string{"c", "c-1", "c-2"} {
		vs[0].wantStatus(id, task.Cancelled)
	}
	cancelled := 0
	for _, v := range vs {
		waitFor(t, "executors stopped", func() bool {
			v.cat.mu.Lock()
			defer v.cat.mu.Unlock()
			return v.cat.running == 0
		})
		v.cat.mu.Lock()
		cancelled += len(v.cat.cancelled)
		v.cat.mu.Unlock()
	}
	if cancelled != 2 {
		t.Fatalf("%d executors saw their context cancelled, want 2", cancelled)
	}
}

// TestClusterCancelsRacingOutcomes: cancels sent through another node while tasks finish
// on the coordinator's node never fence the coordinator's rounds: the run ends without
// an error, on its node, every task settled once.
func TestClusterCancelsRacingOutcomes(t *testing.T) {
	t.Parallel()
	vs := nodes(t, 2, withConcurrency(4))
	const n = 200
	specs := []spec{{id: "cr"}}
	for i := range n {
		specs = append(specs, spec{id: fmt.Sprintf("cr-%03d", i), parent: "cr", params: map[string]any{"sleep_ms": 20 + i%13}})
	}
	vs[0].create(specs...)
	r, err := vs[0].e.Start(t.Context(), "cr", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				if _, err := vs[1].e.Cancel(t.Context(), fmt.Sprintf("cr-%03d", i), "stop"); err != nil {
					t.Errorf("cancel cr-%03d through node 2: %v", i, err)
				}
				time.Sleep(time.Duration(i%5) * time.Millisecond)
			}
		})
	}
	wg.Wait()
	<-r.Done()
	if res := r.Result(); res.Err != nil {
		t.Fatalf("the run ended with %v", res.Err)
	}
	for i := range n {
		if x := vs[0].get(fmt.Sprintf("cr-%03d", i)); x.Status != task.Completed && x.Status != task.Cancelled {
			t.Errorf("%s is %s", x.ID, x.Status)
		}
	}
}

// TestClusterStaleCancelRequestIgnored: a cancel request left in a tree's feed under a
// lease that vanished without being released (its holder died) does not cancel anything
// in a later run of the tree.
func TestClusterStaleCancelRequestIgnored(t *testing.T) {
	t.Parallel()
	st, node, _ := clusterNodeLease(t, "", "node-1", time.Second, 250*time.Millisecond)
	v := setupStore(t, st, withCluster(node))
	v.create(spec{id: "sc"}, spec{id: "sc-1", parent: "sc"})
	if _, err := node.AcquireTree(t.Context(), "sc", "sc"); err != nil { // a holder that dies
		t.Fatal(err)
	}
	if _, held, err := node.RequestCancel(t.Context(), "sc", "sc-1", "stale"); err != nil || !held {
		t.Fatalf("request: held %v, %v", held, err)
	}
	time.Sleep(1200 * time.Millisecond) // the lease expires, unreleased
	if res := v.run("sc", RunOptions{}); res.Status != task.Completed {
		t.Fatalf("the later run ended %s", res.Status)
	}
	v.wantStatus("sc-1", task.Completed)
}

// TestClusterTakeOverAfterNodeDies: a node dies (its connection gone, nothing released)
// with a run it coordinates and tasks it executes; another node takes the run over once
// the leases expire, runs the lost tasks again (attempt 2), and finishes the tree.
func TestClusterTakeOverAfterNodeDies(t *testing.T) {
	t.Parallel()
	var dsn string
	stA, nodeA, dsn := clusterNode(t, dsn, "node-a")
	a := setupStore(t, stA, withCluster(nodeA), withConcurrency(4))
	a.create(wideSpecs(6, 0)...)
	for i := range 6 {
		id := fmt.Sprintf("w-%03d", i)
		if _, err := stA.Update(t.Context(), id, func(t *task.Task) error { t.Params["gate"] = true; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.e.Start(t.Context(), "w", RunOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node a executing 4 tasks", func() bool {
		n, _ := stA.Count(t.Context(), store.Filter{Status: task.InProgress})
		return n == 4
	})
	_ = stA.Close() // node a dies: it can write nothing more and releases nothing

	stB, nodeB, _ := clusterNode(t, dsn, "node-b")
	b := setupStore(t, stB, withCluster(nodeB), withConcurrency(4))
	close(b.cat.gate)
	waitFor(t, "node b finished the run", func() bool {
		w := b.get("w")
		return w.Status == task.Completed && w.Run == nil
	})
	tree, err := stB.Tree(t.Context(), "w")
	if err != nil {
		t.Fatal(err)
	}
	retried := 0
	for _, x := range tree {
		if x.Status != task.Completed {
			t.Errorf("%s ended %s", x.ID, x.Status)
		}
		if x.Attempts == 2 {
			retried++
		}
	}
	if retried != 4 {
		t.Errorf("%d tasks ran twice, want the 4 node a was executing", retried)
	}
	b.cat.mu.Lock()
	defer b.cat.mu.Unlock()
	if len(b.cat.order) != 7 {
		t.Errorf("node b executed %d tasks, want 7 (the children, then the root)", len(b.cat.order))
	}
}

// storedToRunTree is a tree of two tasks to store with ToRun; treeID "" keeps the root's id.
func storedToRunTree(rootID, treeID string) []*task.Task {
	tasks := buildTree([]spec{{id: rootID, deps: req(rootID + "-1")}, {id: rootID + "-1", parent: rootID}})
	for _, x := range tasks {
		if treeID != "" {
			x.TaskTreeID = treeID
		}
	}
	return tasks
}

// TestClusterTreeStoredToRunWaitsForItsCreator: a tree stored to run at once carries its
// run's marker from its create (ToRun), under its creator's lease, which heartbeats renew:
// the other nodes' takeovers leave it to its creator, whose Start runs it; also when the
// tree's id is not its root's.
func TestClusterTreeStoredToRunWaitsForItsCreator(t *testing.T) {
	t.Parallel()
	for _, treeID := range []string{"", "tree-of-s"} {
		t.Run("tree id "+treeID, func(t *testing.T) {
			t.Parallel()
			vs := nodesLease(t, 2, time.Second, 250*time.Millisecond)
			tasks := storedToRunTree("s", treeID)
			stored, release, err := vs[0].e.ToRun(t.Context(), store.Tasks(tasks), tasks[0].TreeID(), "s")
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			if err := vs[0].st.Create(t.Context(), store.Collect(stored)); err != nil {
				t.Fatal(err)
			}
			if vs[1].get("s").Run == nil {
				t.Fatal("tree stored to run without its run's marker")
			}
			time.Sleep(3 * time.Second) // three lease intervals, twelve heartbeats and takeovers
			if s := vs[1].get("s"); s.Status != task.Pending || s.Attempts != 0 {
				t.Fatalf("root %s after %d attempts while its creator had not started it, want pending", s.Status, s.Attempts)
			}
			r, err := vs[0].e.Start(t.Context(), "s", RunOptions{Created: stored})
			if err != nil {
				t.Fatalf("the creator's start: %v", err)
			}
			<-r.Done()
			if res := r.Result(); res.Status != task.Completed {
				t.Fatalf("run ended %s: %v", res.Status, res.Err)
			}
		})
	}
}

// TestClusterTreeStoredToRunIsTakenOverWhenItsCreatorDies: the creator of a tree stored
// to run at once dies before starting it; another node runs the tree once the creator's
// lease has expired.
func TestClusterTreeStoredToRunIsTakenOverWhenItsCreatorDies(t *testing.T) {
	t.Parallel()
	stA, nodeA, dsn := clusterNodeLease(t, "", "node-a", time.Second, 250*time.Millisecond)
	a := setupStore(t, stA, withCluster(nodeA))
	tasks := storedToRunTree("d", "tree-of-d")
	stored, _, err := a.e.ToRun(t.Context(), store.Tasks(tasks), "tree-of-d", "d")
	if err != nil {
		t.Fatal(err)
	}
	if err := stA.Create(t.Context(), store.Collect(stored)); err != nil {
		t.Fatal(err)
	}
	_ = stA.Close() // node a dies before its Start: it writes and releases nothing more

	stB, nodeB, _ := clusterNodeLease(t, dsn, "node-b", time.Second, 250*time.Millisecond)
	b := setupStore(t, stB, withCluster(nodeB))
	waitFor(t, "node b ran the tree", func() bool {
		d := b.get("d")
		return d.Status == task.Completed && d.Run == nil
	})
	if d1 := b.get("d-1"); d1.Status != task.Completed || d1.Attempts != 1 {
		t.Fatalf("d-1 %s after %d attempts, want completed once", d1.Status, d1.Attempts)
	}
}

// TestClusterSurvivesDatabaseRestart: PostgreSQL crashes and restarts mid-run (its own
// server, so other tests keep theirs). Writes in flight fail; the nodes retry outcomes,
// the runs that stopped are taken over once their leases expire, and every task ends
// completed once, none left in_progress.
func TestClusterSurvivesDatabaseRestart(t *testing.T) {
	t.Parallel()
	own := pgtest.New()
	t.Cleanup(func() { _ = own.Stop() })
	dsn := own.Database(t)
	var vs []*env
	for i := range 2 {
		st, node, _ := clusterNode(t, dsn, fmt.Sprintf("node-%d", i+1))
		vs = append(vs, setupStore(t, st, withCluster(node), withConcurrency(4)))
	}
	vs[0].create(wideSpecs(40, 100)...)
	if _, err := vs[0].e.Start(t.Context(), "w", RunOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a few tasks done", func() bool {
		n, _ := vs[0].st.Count(t.Context(), store.Filter{Status: task.Completed})
		return n >= 8
	})
	own.Restart(t)
	deadline := time.Now().Add(90 * time.Second)
	for {
		w, err := vs[1].st.Get(t.Context(), "w")
		if err == nil && w.Status == task.Completed && w.Run == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not finish after the restart: root %+v, %v", w, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tree, err := vs[1].st.Tree(t.Context(), "w")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range tree {
		if x.Status != task.Completed || x.Attempts < 1 || x.Attempts > 2 {
			t.Errorf("%s: %s after %d attempts", x.ID, x.Status, x.Attempts)
		}
	}
}

// TestClusterChainRunsOnTheCoordinatorsNode: with a free slot, the coordinator's node
// starts and claims each task of a chain in the round that settles its dependency, so a
// hop costs one round's two round trips, not a trip through the queue (claim, outcome,
// feed: about nine).
func TestClusterChainRunsOnTheCoordinatorsNode(t *testing.T) {
	t.Parallel()
	// A heartbeat far apart keeps the node's own background trips out of the count.
	st, node, _ := clusterNodeLease(t, "", "node-1", time.Minute, 20*time.Second)
	v := setupStore(t, st, withCluster(node))
	const hops = 30
	specs := []spec{{id: "ch", method: "noop", deps: req(fmt.Sprintf("ch-%02d", hops-1))}}
	for i := range hops {
		s := spec{id: fmt.Sprintf("ch-%02d", i), parent: "ch", method: "noop"}
		if i > 0 {
			s.deps = req(fmt.Sprintf("ch-%02d", i-1))
		}
		specs = append(specs, s)
	}
	v.create(specs...)
	before := st.RoundTrips()
	if res := v.run("ch", RunOptions{}); res.Status != task.Completed {
		t.Fatalf("run ended %s", res.Status)
	}
	// Idle claim polls add a few round trips while the chain runs.
	perHop := float64(st.RoundTrips()-before) / hops
	t.Logf("%.1f round trips per hop", perHop)
	// About 2.5 (a round's two, and the run's own start and end); a scheduling hiccup
	// can split a few rounds in two. Through the queue a hop costs about nine.
	if perHop > 6 {
		t.Fatalf("%.1f round trips per hop, want about 2 (one round per hop), far below the queue's nine", perHop)
	}
}

// TestClusterRetriesOnAnotherNode: attempts claimed and executed by another node than the
// coordinator's fail, wait and run again there; the coordinator learns of each wait from
// the tree's feed, and the dependent runs once, after the final outcome.
func TestClusterRetriesOnAnotherNode(t *testing.T) {
	t.Parallel()
	stA, nodeA, dsn := clusterNode(t, "", "node-a")
	coord := setupStore(t, stA, withCluster(nodeA), func(c *Config) { c.ClusterClient = true })
	stB, nodeB, _ := clusterNode(t, dsn, "node-b")
	worker := setupStore(t, stB, withCluster(nodeB))
	coord.create(spec{id: "cr", method: "aggregate_results_executor", deps: req("cr-f", "cr-d")},
		spec{id: "cr-f", params: map[string]any{"fail_times": 2, "retry": quick(3)}},
		spec{id: "cr-d", deps: req("cr-f")})
	res := coord.run("cr", RunOptions{})
	if res.Status != task.Completed {
		t.Fatalf("root = %s, want completed", res.Status)
	}
	f := coord.wantStatus("cr-f", task.Completed)
	if len(f.Retry.History) != 3 || worker.cat.executions["cr-f"] != 3 || coord.cat.executions["cr-f"] != 0 {
		t.Fatalf("history %+v; executions: worker %d, coordinator %d: want 3 attempts on the worker",
			f.Retry.History, worker.cat.executions["cr-f"], coord.cat.executions["cr-f"])
	}
	if d := coord.wantStatus("cr-d", task.Completed); d.StartedAt.Before(f.CompletedAt) || worker.cat.executions["cr-d"] != 1 {
		t.Fatalf("dependent started %v (final outcome %v), ran %d times", d.StartedAt, f.CompletedAt, worker.cat.executions["cr-d"])
	}
}

// TestClusterTakeOverWhileWaiting: the coordinating node dies while a task waits for its
// retry; the node that takes the run over waits only what is left and runs the next
// attempt, and the dependent after it.
func TestClusterTakeOverWhileWaiting(t *testing.T) {
	t.Parallel()
	stA, nodeA, dsn := clusterNode(t, "", "node-a")
	a := setupStore(t, stA, withCluster(nodeA))
	a.create(spec{id: "tw", method: "aggregate_results_executor", deps: req("tw-d")},
		spec{id: "tw-w", params: map[string]any{"fail_times": 1, "retry": map[string]any{"max_attempts": 2,
			"backoff": map[string]any{"initial_ms": 1500, "max_ms": 1500, "jitter": 0}}}},
		spec{id: "tw-d", deps: req("tw-w")})
	if _, err := a.e.Start(t.Context(), "tw", RunOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "tw-w waiting for its retry", func() bool { return a.get("tw-w").WaitingRetry() })
	_ = stA.Close() // node a dies while the task waits

	stB, nodeB, _ := clusterNode(t, dsn, "node-b")
	b := setupStore(t, stB, withCluster(nodeB))
	waitFor(t, "node b finished the run", func() bool {
		r := b.get("tw")
		return r.Status == task.Completed && r.Run == nil
	})
	w := b.wantStatus("tw-w", task.Completed)
	if len(w.Retry.History) != 2 || b.cat.executions["tw-w"] != 1 {
		t.Fatalf("history %+v, node b executions %d: want the second attempt on node b", w.Retry.History, b.cat.executions["tw-w"])
	}
	if w.Retry.History[1].StartedAt.Before(w.Retry.History[0].EndedAt.Add(1500 * time.Millisecond)) {
		t.Fatalf("second attempt at %v, before the backoff ended", w.Retry.History[1].StartedAt)
	}
	b.wantStatus("tw-d", task.Completed)
}

// TestClusterCancelAfterCoordinatorDies: a cancel sent while the node coordinating the
// run is dead, and no other has taken the run over, still stops the tasks other nodes
// execute: their claims are dropped, and the nodes told.
func TestClusterCancelAfterCoordinatorDies(t *testing.T) {
	t.Parallel()
	var dsn string
	stA, nodeA, dsn := clusterNodeLease(t, dsn, "node-a", 2*time.Second, 250*time.Millisecond)
	a := setupStore(t, stA, withCluster(nodeA), withConcurrency(1))
	stB, nodeB, _ := clusterNodeLease(t, dsn, "node-b", 2*time.Second, 250*time.Millisecond)
	b := setupStore(t, stB, withCluster(nodeB), withConcurrency(4))
	block := map[string]any{"block": true}
	a.create(spec{id: "d"}, spec{id: "d-1", parent: "d", params: block}, spec{id: "d-2", parent: "d", params: block},
		spec{id: "d-3", parent: "d", params: block})
	if _, err := a.e.Start(t.Context(), "d", RunOptions{}); err != nil {
		t.Fatal(err)
	}
	executing := func() int {
		b.cat.mu.Lock()
		defer b.cat.mu.Unlock()
		return b.cat.running
	}
	waitFor(t, "node b executing two tasks", func() bool { return executing() == 2 })
	_ = stA.Close() // node a dies: it writes and releases nothing more

	if _, err := b.e.Cancel(t.Context(), "d", "stop"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node b's executions stopped", func() bool { return executing() == 0 })
	// Node b runs two of the three tasks, or all three when the root held node a's one
	// slot while node b claimed them: every one of them must have been stopped.
	b.cat.mu.Lock()
	ran, stopped := 0, 0
	for id := range b.cat.executions {
		if strings.HasPrefix(id, "d-") { // the blocking ones, not the root
			ran++
			if b.cat.cancelled[id] {
				stopped++
			}
		}
	}
	b.cat.mu.Unlock()
	if ran < 2 || stopped != ran {
		t.Fatalf("%d of node b's %d executions saw their context cancelled, want all of at least 2", stopped, ran)
	}
	for _, id := range []string{"d", "d-1", "d-2", "d-3"} {
		if got := b.get(id); got.Status != task.Cancelled {
			t.Errorf("%s is %s, want cancelled", id, got.Status)
		}
	}
}
