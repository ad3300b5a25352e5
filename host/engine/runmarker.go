package engine

import (
	"context"
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

// ToRun returns b, a new tree (treeID, rooted at rootID) about to be stored and then
// started on this engine (apflow run, tasks.execute of inline tasks), with its root
// carrying the marker of a run of the whole tree: stored so, a tree whose process dies
// between its create and its run's first commit is resumed like any interrupted run (by
// Recover on a single node, by another node's takeover in a cluster). The run that
// starts it writes its own marker over this one. b's root is copied, not modified.
//
// In cluster mode ToRun first takes the tree's lease for this node, so that no other node
// takes the marked tree over before its creator starts it; Start of the tree on this
// engine uses that lease. Call release once the create and Start are done, whatever
// their outcome (defer it): it gives back a lease Start did not use (the create failed,
// or the caller gave up), so that the marked tree's run, if stored, is taken over by a
// node at its next heartbeat. Heartbeats renew the lease until then. When a live node
// holds the lease of treeID already (a tree of that id exists), b is returned unmarked:
// its create fails on the id, as without ToRun.
//
// Pitfalls: a keyed submission must not be marked: its repeat starts a tree whose run
// never started (RunOptions.OnlyUnstarted), which a marker counts as started. In a
// cluster, a creator paused past its lease between ToRun and Start may have its tree
// taken over meanwhile: its Start then runs under the lost lease, whose first commit is
// refused (cluster.ErrFenced), and the run fails while the other node's goes on.
func (e *Engine) ToRun(ctx context.Context, b store.Batch, treeID, rootID string) (stored store.Batch, release func(), err error) {
	marked := toRun{Batch: b, startedAt: e.cfg.Now()}
	if e.m == nil {
		return marked, func() {}, nil
	}
	held, token, err := e.reserve(ctx, treeID, rootID)
	switch {
	case err != nil:
		return nil, nil, err
	case !held:
		return b, func() {}, nil
	}
	return marked, func() { e.unreserve(treeID, token) }, nil
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
	i, _ := c.graph.lookup(r.rootID)
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
	i, ok := c.graph.lookup(c.run.rootID)
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
