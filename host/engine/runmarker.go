package engine

import (
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// The run marker (task.Task.Run on the root) makes runs durable (docs/semantics.md rule 18): it says
// "a run of this tree, with this scope, has started and not ended". It is written in the
// first transaction of the run (see markRun); kept when Close interrupts the run, when
// the store fails under it or when the process dies; and cleared in the transaction that
// ends the run (finish) or cancels the root (handleCancel, in one transaction with every
// cancel of the tree; cancelIdle for an idle tree). Recover resumes exactly the trees
// whose root carries it, with the recorded scope.

// ToRun returns b, a new tree about to be stored and then started on this engine
// (apflow run, tasks.execute of inline tasks), with its root carrying the marker of a run
// of the whole tree: stored so, a tree whose process dies between its create and its
// run's first commit is resumed by Recover like any interrupted run. The run that starts
// it writes its own marker over this one. b's root is copied, not modified.
//
// Pitfalls: in cluster mode b is returned as it is, since another node would take a
// marked tree over before its creator's Start holds its lease; there a crash between the
// create and the start leaves the tree pending, for a re-run. A keyed submission must not
// be marked: its repeat starts a tree whose run never started (RunOptions.OnlyUnstarted),
// which a marker counts as started.
func (e *Engine) ToRun(b store.Batch) store.Batch {
	if e.m != nil {
		return b
	}
	return toRun{Batch: b, startedAt: e.cfg.Now()}
}

type toRun struct {
	store.Batch
	startedAt time.Time
}

func (b toRun) Task(i int) *task.Task {
	t := b.Batch.Task(i)
	if !t.IsRoot() {
		return t
	}
	root := *t
	root.Run = &task.RunMarker{StartedAt: b.startedAt}
	return &root
}

// marker returns the run marker of r.
func (r *Run) marker() *task.RunMarker {
	return &task.RunMarker{TaskID: r.opts.TaskID, Full: r.opts.Full, StartedAt: r.started}
}

// markRun queues the write of the run marker on the root. It is never committed on its
// own: it joins the transaction of the run's resets (re-runs: one transaction however
// many they are, batch.atomic), or else the first round's, with the first start
// transitions; so it is durable before any task of the run is reset or in_progress, at
// no extra commit. A resumed run keeps the marker of the run it continues (same scope,
// original start time).
func (c *coordinator) markRun() {
	r := c.run
	i := c.graph.index[r.rootID]
	n := c.graph.nodes[i]
	m := r.marker()
	resume := r.opts.resume
	c.writes.add(r.rootID, func(t *task.Task) error {
		if resume && t.Run != nil {
			return nil
		}
		t.Run = m
		return nil
	}, c.keep(n, false))
}

// clearRun queues the removal of the run marker, in the transaction that ends the run.
func (c *coordinator) clearRun() {
	i, ok := c.graph.index[c.run.rootID]
	if !ok {
		return
	}
	n := c.graph.nodes[i]
	c.writes.add(n.v.id, clearMarker, c.keep(n, false))
}

// clearMarker is the change that removes a root's run marker.
func clearMarker(t *task.Task) error {
	t.Run = nil
	return nil
}

// unfinished reports whether the run stopped with work left: a task of its scope that is
// still waiting, ready or re-queued by the shutdown. A run that Close stopped after its
// last task had finished anyway is not interrupted.
func (c *coordinator) unfinished() bool {
	if c.graph == nil {
		return false
	}
	for i, n := range c.graph.nodes {
		if !c.scope[i] {
			continue
		}
		switch n.state {
		case stIdle, stHeld:
			if !c.waitsOnOut(n) {
				return true
			}
		case stReady, stRunning, stPosting, stWaiting:
			return true
		}
	}
	return false
}
