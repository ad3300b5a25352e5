package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// gsChain is root → gs-1 → gs-2 → gs-3 in execution order: gs-2 needs gs-1, gs-3 needs
// gs-2, the root needs gs-3. gs-1 waits for the catalog's gate.
func gsChain() []spec {
	return []spec{
		{id: "root", deps: req("gs-3")},
		{id: "gs-1", params: map[string]any{"gate": true}},
		{id: "gs-2", deps: req("gs-1")},
		{id: "gs-3", deps: req("gs-2")},
	}
}

// closeAsync starts Close with a generous deadline and waits until the engine is closing.
func closeAsync(t *testing.T, e *Engine) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- e.Close(ctx)
	}()
	waitFor(t, "engine closing", e.isClosing)
	return done
}

// resume opens a new engine on st, runs Recover, waits for the runs it resumed to end and
// returns the new engine and the roots of the runs it started.
func resume(t *testing.T, st store.Store, opts ...option) (*env, []string) {
	t.Helper()
	v := setupStore(t, st, opts...)
	events, stop := v.e.Subscribe("")
	defer stop()
	if err := v.e.Recover(context.Background()); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	waitFor(t, "resumed runs to end", func() bool { return len(v.e.Running()) == 0 })
	var started []string
	for len(events) > 0 {
		if ev := <-events; ev.Type == EventRunStart {
			started = append(started, ev.RootID)
		}
	}
	sort.Strings(started)
	return v, started
}

func (v *env) wantAttempts(want int, ids ...string) {
	v.t.Helper()
	for _, id := range ids {
		if got := v.get(id); got.Attempts != want {
			v.t.Errorf("task %s attempts = %d, want %d", id, got.Attempts, want)
		}
	}
}

// TestDrainedRunIsResumed: Close lets the running task finish; nothing is in_progress
// afterwards and the rest of the chain never started, yet a new engine resumes the run.
func TestDrainedRunIsResumed(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(gsChain()...)
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gs-1 to run", func() bool { return indexOf(v.cat.startOrder(), "gs-1") >= 0 })
	closed := closeAsync(t, v.e)
	close(v.cat.gate) // gs-1 finishes during the drain
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v, want nil after a graceful drain", err)
	}
	if res := run.Result(); !res.Interrupted || res.Err != nil {
		t.Fatalf("run result = %+v, want interrupted without error", res)
	}
	v.wantStatus("gs-1", task.Completed)
	for _, id := range []string{"gs-2", "gs-3", "root"} {
		if tk := v.wantStatus(id, task.Pending); tk.Attempts != 0 || tk.Blocked() {
			t.Fatalf("%s = attempts %d, error %q: want untouched", id, tk.Attempts, tk.Error)
		}
	}
	if m := v.get("root").Run; m == nil || m.TaskID != "" || m.Full || m.StartedAt.IsZero() {
		t.Fatalf("root run marker = %+v, want a whole-tree marker", m)
	}

	v2, started := resume(t, v.st)
	if len(started) != 1 || started[0] != "root" {
		t.Fatalf("resumed runs %v, want [root]", started)
	}
	v2.wantStatus("root", task.Completed)
	if n := v2.cat.executions["gs-1"]; n != 0 {
		t.Fatalf("completed gs-1 ran %d more times", n)
	}
	if got := v2.cat.startOrder(); strings.Join(got, ",") != "gs-2,gs-3,root" {
		t.Fatalf("resumed start order %v, want gs-2, gs-3, root", got)
	}
	v2.wantAttempts(1, "gs-1", "gs-2", "gs-3", "root")
	if m := v2.get("root").Run; m != nil {
		t.Fatalf("run marker %+v left after the run ended", m)
	}
	// Nothing is left to resume.
	if _, started := resume(t, v.st); len(started) != 0 {
		t.Fatalf("a finished run was resumed again: %v", started)
	}
}

// TestDrainedSubRunResumesItsScope: the marker records RunOptions.TaskID, and the resumed
// run stays inside that part of the tree.
func TestDrainedSubRunResumesItsScope(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root", deps: req("b", "x")},
		spec{id: "a", params: map[string]any{"gate": true}},
		spec{id: "b", deps: req("a")},
		spec{id: "x"},
	)
	run, err := v.e.Start(context.Background(), "b", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to run", func() bool { return indexOf(v.cat.startOrder(), "a") >= 0 })
	closed := closeAsync(t, v.e)
	close(v.cat.gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v", err)
	}
	<-run.Done()
	if m := v.get(root).Run; m == nil || m.TaskID != "b" {
		t.Fatalf("root run marker = %+v, want task_id b", m)
	}
	v2, started := resume(t, v.st)
	if len(started) != 1 {
		t.Fatalf("resumed runs %v, want one", started)
	}
	v2.wantStatus("b", task.Completed)
	v2.wantStatus("x", task.Pending) // outside the run's scope
	v2.wantStatus("root", task.Pending)
	if got := v2.cat.startOrder(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("resumed run started %v, want only b", got)
	}
	if m := v2.get(root).Run; m != nil {
		t.Fatalf("run marker %+v left after the run ended", m)
	}
}

// errCrashed is what crashStore answers once it has "crashed".
var errCrashed = errors.New("store crashed")

// crashStore simulates a process that dies: once crashed, no write reaches the store
// underneath, which keeps exactly what was committed before.
type crashStore struct {
	store.Store
	crashed atomic.Bool
	// commits, when positive, is the number of UpdateMany calls that succeed before the
	// store crashes by itself.
	commits atomic.Int32
}

func (c *crashStore) Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	if c.crashed.Load() {
		return nil, errCrashed
	}
	return c.Store.Update(ctx, id, fn)
}

func (c *crashStore) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	if c.commits.Load() > 0 && c.commits.Add(-1) == 0 {
		defer c.crashed.Store(true)
	}
	if c.crashed.Load() {
		return nil, errCrashed
	}
	return c.Store.UpdateMany(ctx, muts)
}

// holdHooks holds the post-hook of one task until released: between the commit that
// completes it and the one that starts its dependent, nothing of the run is in_progress.
type holdHooks struct {
	hold             string
	entered, release chan struct{}
}

func (h *holdHooks) Pre(context.Context, *task.Task, map[string]any) (map[string]any, []error) {
	return nil, nil
}

func (h *holdHooks) Post(_ context.Context, t *task.Task, _ map[string]any, _ any) []error {
	if t.ID == h.hold {
		close(h.entered)
		<-h.release
	}
	return nil
}

func (h *holdHooks) TreeEvent(context.Context, string, *task.Task, *task.TreeNode, string, string) {}

func memStore(t *testing.T) store.Store {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestCrashedRunIsResumed: the process dies between two commits while nothing is in
// progress (gs-1 completed, gs-2 not started); Recover resumes the run from the store.
func TestCrashedRunIsResumed(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	cs := &crashStore{Store: st}
	h := &holdHooks{hold: "gs-1", entered: make(chan struct{}), release: make(chan struct{})}
	v := setupStore(t, cs, withHooks(h))
	close(v.cat.gate)
	root := v.create(gsChain()...)
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-h.entered
	cs.crashed.Store(true) // the process dies here: nothing more is written
	close(h.release)
	<-run.Done()
	if !errors.Is(run.Result().Err, errCrashed) {
		t.Fatalf("run error = %v, want the crash", run.Result().Err)
	}
	if tk, _ := st.Get(context.Background(), "gs-1"); tk.Status != task.Completed {
		t.Fatalf("gs-1 = %s before recovery, want completed", tk.Status)
	}
	if n, _ := st.Count(context.Background(), store.Filter{Status: task.InProgress}); n != 0 {
		t.Fatalf("%d tasks in_progress: the crash point is not between two commits", n)
	}

	v2, started := resume(t, st)
	if len(started) != 1 || started[0] != "root" {
		t.Fatalf("resumed runs %v, want [root]", started)
	}
	v2.wantStatus("root", task.Completed)
	if got := v2.cat.startOrder(); strings.Join(got, ",") != "gs-2,gs-3,root" {
		t.Fatalf("resumed start order %v, want gs-2, gs-3, root", got)
	}
	v2.wantAttempts(1, "gs-1", "gs-2", "gs-3", "root")
}

// TestCrashAfterResetsResumes: a re-run's resets and its marker share the first commit;
// the process dies right after it, and Recover runs what the re-run reset.
func TestCrashAfterResetsResumes(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	tasks := buildTree([]spec{{id: "root", deps: req("a")}, {id: "a", status: task.Failed}})
	tasks[1].Error, tasks[1].Attempts = "old failure", 1
	if err := st.Create(context.Background(), tasks); err != nil {
		t.Fatal(err)
	}
	cs := &crashStore{Store: st}
	cs.commits.Store(1)
	v := setupStore(t, cs)
	close(v.cat.gate)
	run, err := v.e.Start(context.Background(), "root", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-run.Done()
	if a, _ := st.Get(context.Background(), "a"); a.Status != task.Pending || len(v.cat.startOrder()) != 0 {
		t.Fatalf("a = %s, started %v: want reset and nothing started before the crash", a.Status, v.cat.startOrder())
	}
	v2, started := resume(t, st)
	if len(started) != 1 {
		t.Fatalf("resumed runs %v, want [root]", started)
	}
	v2.wantStatus("root", task.Completed)
	v2.wantAttempts(2, "a")
}

// TestFinishedSubRunIsNotResumed: a TaskID run that ended normally leaves tasks pending
// outside its scope (and a reset ancestor with attempts) but no marker: nothing resumes.
func TestFinishedSubRunIsNotResumed(t *testing.T) {
	t.Parallel()
	v := setup(t)
	close(v.cat.gate)
	tasks := buildTree([]spec{
		{id: "root", deps: req("a", "x")},
		{id: "a", status: task.Failed},
		{id: "x"},
	})
	now := time.Now().UTC()
	tasks[0].Error, tasks[0].Attempts = "blocked: required dependency a failed", 1
	tasks[1].Error, tasks[1].StartedAt, tasks[1].CompletedAt, tasks[1].Attempts = "old failure", now, now, 1
	if err := v.st.Create(context.Background(), tasks); err != nil {
		t.Fatal(err)
	}
	res := v.run("root", RunOptions{TaskID: "a"})
	if res.Err != nil || res.Interrupted {
		t.Fatalf("sub-run = %+v", res)
	}
	v.wantStatus("a", task.Completed)
	if r := v.wantStatus("root", task.Pending); r.Run != nil || r.Blocked() {
		t.Fatalf("root after the sub-run = marker %+v, error %q", r.Run, r.Error)
	}
	v2, started := resume(t, v.st)
	if len(started) != 0 {
		t.Fatalf("a finished sub-run was resumed: %v", started)
	}
	v2.wantStatus("x", task.Pending)
	v2.wantStatus("root", task.Pending)
}

// TestCancelledRunIsNotResumed: cancelling the root ends the run (in a run) or the
// interrupted run (on an idle tree); either way Recover leaves the tree alone.
func TestCancelledRunIsNotResumed(t *testing.T) {
	t.Parallel()
	t.Run("running", func(t *testing.T) {
		t.Parallel()
		v := setup(t)
		root := v.create(gsChain()...)
		run, err := v.e.Start(context.Background(), root, RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "gs-1 to run", func() bool { return indexOf(v.cat.startOrder(), "gs-1") >= 0 })
		if _, err := v.e.Cancel(context.Background(), root, ""); err != nil {
			t.Fatal(err)
		}
		<-run.Done()
		if r := v.wantStatus(root, task.Cancelled); r.Run != nil {
			t.Fatalf("cancelled root keeps run marker %+v", r.Run)
		}
		if _, started := resume(t, v.st); len(started) != 0 {
			t.Fatalf("a cancelled run was resumed: %v", started)
		}
	})
	t.Run("interrupted, then cancelled", func(t *testing.T) {
		t.Parallel()
		v := setup(t)
		root := v.create(gsChain()...)
		if _, err := v.e.Start(context.Background(), root, RunOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "gs-1 to run", func() bool { return indexOf(v.cat.startOrder(), "gs-1") >= 0 })
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // no grace: gs-1 is re-queued
		if err := v.e.Close(ctx); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if v.get(root).Run == nil {
			t.Fatal("interrupted run has no marker")
		}
		if _, err := v.e.Cancel(context.Background(), root, ""); err != nil {
			t.Fatal(err)
		}
		if r := v.wantStatus(root, task.Cancelled); r.Run != nil {
			t.Fatalf("cancelled root keeps run marker %+v", r.Run)
		}
		v2, started := resume(t, v.st)
		if len(started) != 0 {
			t.Fatalf("a cancelled run was resumed: %v", started)
		}
		v2.wantStatus("gs-1", task.Cancelled)
	})
}

// TestCloseReportsOnlyStoreFailures: re-queueing is a normal shutdown (nil); a run that
// cannot record its state makes Close fail, naming the run.
func TestCloseReportsOnlyStoreFailures(t *testing.T) {
	t.Parallel()
	cs := &crashStore{Store: memStore(t)}
	v := setupStore(t, cs)
	root := v.create(spec{id: "root"}, spec{id: "slow", params: map[string]any{"block": true}})
	if _, err := v.e.Start(context.Background(), root, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slow to run", func() bool { return indexOf(v.cat.startOrder(), "slow") >= 0 })
	cs.crashed.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := v.e.Close(ctx)
	if !errors.Is(err, errCrashed) || !strings.Contains(err.Error(), "run of root") {
		t.Fatalf("Close = %v, want the store failure of the run of root", err)
	}
	if err := v.e.Close(context.Background()); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
}

// crashAfterStore is a crashStore that crashes by itself right after the first commit
// whose stored tasks satisfy after.
type crashAfterStore struct {
	*crashStore
	after func(stored []*task.Task) bool
}

func (c *crashAfterStore) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	out, err := c.crashStore.UpdateMany(ctx, muts)
	if err == nil && c.after(out) {
		c.crashed.Store(true)
	}
	return out, err
}

// rootCancelled reports whether stored holds the root, cancelled.
func rootCancelled(stored []*task.Task) bool {
	return slices.ContainsFunc(stored, func(x *task.Task) bool { return x.ID == "root" && x.Status == task.Cancelled })
}

// startGated creates a root depending on a gate task and n workers depending on it, and
// starts its run, returning once the gate runs (it holds until v.cat.gate is closed).
func startGated(t *testing.T, v *env, n int) (string, *Run) {
	t.Helper()
	specs := []spec{{id: "root", deps: req("gate")}, {id: "gate", params: map[string]any{"gate": true}}}
	for i := range n {
		specs = append(specs, spec{id: fmt.Sprintf("w%d", i), deps: req("gate")})
	}
	root := v.create(specs...)
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gate to run", func() bool { return indexOf(v.cat.startOrder(), "gate") >= 0 })
	return root, run
}

// bigFailedTree is a root depending on n failed tasks: a re-run resets n+1 tasks.
func bigFailedTree(n int) []*task.Task {
	specs := []spec{{id: "root"}}
	var deps []string
	for i := range n {
		id := fmt.Sprintf("f%d", i)
		specs = append(specs, spec{id: id, status: task.Failed})
		deps = append(deps, id)
	}
	specs[0].deps = req(deps...)
	tasks := buildTree(specs)
	for _, x := range tasks[1:] {
		x.Error, x.Attempts = "old failure", 1
	}
	return tasks
}

// TestCrashDuringBigRoundIsConsistent: a round of more writes than one transaction
// usually takes that changes whether the tree is running (a re-run's resets with its run
// marker, a cancel of the root with the marker's removal) commits them in one
// transaction: a crash right after the commit that holds the root's change resumes the
// re-run whole, and never the cancelled run.
func TestCrashDuringBigRoundIsConsistent(t *testing.T) {
	t.Parallel()
	n := maxBatch + 10
	t.Run("re-run", func(t *testing.T) {
		t.Parallel()
		st := memStore(t)
		if err := st.Create(context.Background(), bigFailedTree(n)); err != nil {
			t.Fatal(err)
		}
		cs := &crashAfterStore{crashStore: &crashStore{Store: st}, after: func(out []*task.Task) bool {
			return slices.ContainsFunc(out, func(x *task.Task) bool { return x.Status == task.Pending })
		}}
		v := setupStore(t, cs)
		close(v.cat.gate)
		run, err := v.e.Start(context.Background(), "root", RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		<-run.Done()
		if got, _ := st.Count(context.Background(), store.Filter{Status: task.Failed}); got != 0 {
			t.Fatalf("%d tasks still failed after the commit of the re-run's first resets", got)
		}
		v2, _ := resume(t, st) // its events overflow a subscriber's buffer: the store says what ran
		v2.wantStatus("root", task.Completed)
		if got, _ := st.Count(context.Background(), store.Filter{Status: task.Completed}); got != n+1 {
			t.Fatalf("%d tasks completed after the resumed re-run, want %d", got, n+1)
		}
	})
	t.Run("cancel of the root", func(t *testing.T) {
		t.Parallel()
		st := memStore(t)
		cs := &crashAfterStore{crashStore: &crashStore{Store: st}, after: rootCancelled}
		v := setupStore(t, cs)
		root, run := startGated(t, v, n)
		_, _ = v.e.Cancel(context.Background(), root, "") // the store crashes under it
		close(v.cat.gate)
		<-run.Done()
		r, err := st.Get(context.Background(), root)
		if err != nil || r.Status != task.Cancelled || r.Run != nil {
			t.Fatalf("root after the crash: %v, marker %+v, %v; want cancelled without marker", r.Status, r.Run, err)
		}
		if got, _ := st.Count(context.Background(), store.Filter{Status: task.Cancelled}); got != n+2 {
			t.Fatalf("%d tasks cancelled, want all %d", got, n+2)
		}
		if _, started := resume(t, st); len(started) != 0 {
			t.Fatalf("a cancelled run was resumed: %v", started)
		}
	})
	t.Run("cancel of an idle root with a marker", func(t *testing.T) {
		t.Parallel()
		st := memStore(t)
		cs := &crashAfterStore{crashStore: &crashStore{Store: st}, after: rootCancelled}
		v := setupStore(t, cs)
		specs := []spec{{id: "root"}}
		for i := range n {
			specs = append(specs, spec{id: fmt.Sprintf("w%d", i)})
		}
		if err := st.Create(context.Background(), storedToRun(t, v.e, buildTree(specs))); err != nil {
			t.Fatal(err)
		}
		_, _ = v.e.Cancel(context.Background(), "root", "") // the store crashes under it
		r, err := st.Get(context.Background(), "root")
		if err != nil || r.Status != task.Cancelled || r.Run != nil {
			t.Fatalf("root after the crash: %v, marker %+v, %v; want cancelled without marker", r.Status, r.Run, err)
		}
		if got, _ := st.Count(context.Background(), store.Filter{Status: task.Cancelled}); got != n+1 {
			t.Fatalf("%d tasks cancelled, want all %d", got, n+1)
		}
	})
}

// failWholeStore fails the first UpdateMany of several mutations once armed, as a
// transient failure of a whole transaction, then takes one more call (of the writes
// retried one by one) and crashes.
type failWholeStore struct {
	*crashStore
	armed atomic.Int32 // 1: fail the next call of several mutations; 2: take one; 3: crashed
}

func (f *failWholeStore) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	switch f.armed.Load() {
	case 1:
		if len(muts) > 1 {
			f.armed.Store(2)
			return nil, errors.New("transient: serialization failure")
		}
	case 2:
		f.armed.Store(3)
		return f.crashStore.UpdateMany(ctx, muts)
	case 3:
		return nil, errCrashed
	}
	return f.crashStore.UpdateMany(ctx, muts)
}

// TestCancelOfRootKeepsMarkerUnlessCommitted: the transaction of a cancel of the root
// fails, then the store takes one more write and crashes: the cancel committed whole,
// with the marker's removal, or not at all, and then the marker stays.
func TestCancelOfRootKeepsMarkerUnlessCommitted(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	fs := &failWholeStore{crashStore: &crashStore{Store: st}}
	v := setupStore(t, fs)
	root, run := startGated(t, v, 5)
	tasks := 5 + 2
	fs.armed.Store(1)
	_, _ = v.e.Cancel(context.Background(), root, "")
	close(v.cat.gate)
	<-run.Done()
	r, _ := st.Get(context.Background(), root)
	cancelled, _ := st.Count(context.Background(), store.Filter{Status: task.Cancelled})
	switch {
	case cancelled == tasks && r.Run == nil, cancelled == 0 && r.Run != nil:
	default:
		t.Fatalf("%d of %d tasks cancelled, root %s with marker %+v: want all cancelled without marker, or none with it",
			cancelled, tasks, r.Status, r.Run)
	}
}

// TestTreeStoredToRunIsResumed: a tree stored to be run at once carries its run's marker
// from its create (ToRun); the process dies before the run's first commit, and Recover
// runs the whole tree.
func TestTreeStoredToRunIsResumed(t *testing.T) {
	t.Parallel()
	st := memStore(t)
	tasks := buildTree([]spec{{id: "root", deps: req("b")}, {id: "a"}, {id: "b", deps: req("a")}})
	first := setupStore(t, st)
	if err := st.Create(context.Background(), storedToRun(t, first.e, tasks)); err != nil {
		t.Fatal(err)
	}
	if tasks[0].Run != nil {
		t.Fatal("ToRun modified the caller's root")
	}
	// The process dies here: no run started.
	v, started := resume(t, st)
	if len(started) != 1 || started[0] != "root" {
		t.Fatalf("resumed runs %v, want [root]", started)
	}
	v.wantStatus("root", task.Completed)
	v.wantAttempts(1, "a", "b", "root")
	if m := v.get("root").Run; m != nil {
		t.Fatalf("run marker %+v left after the run ended", m)
	}
}

// storedToRun returns tasks as e.ToRun marks them to be stored and run at once; what ToRun
// reserved is given back when t ends.
func storedToRun(t *testing.T, e *Engine, tasks []*task.Task) []*task.Task {
	t.Helper()
	stored, release, err := e.ToRun(t.Context(), store.Tasks(tasks), tasks[0].TreeID(), tasks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return store.Collect(stored)
}
