package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// cancelReq asks a run's coordinator to cancel a task of its tree.
type cancelReq struct {
	taskID  string
	message string
	reply   chan cancelReply
}

type cancelReply struct {
	tasks []*task.Task
	err   error
}

// Cancel cancels a task (docs/semantics.md rule 14): a pending or in_progress task becomes cancelled
// with message (default "Cancelled by user"); a running executor's context is cancelled
// (its sandbox closes) and its late result is discarded. Cancelling the root cancels every
// non-terminal task of the tree. Dependents that required a cancelled task are marked
// blocked (docs/semantics.md rule 13).
//
// It returns the tasks it cancelled, the requested one first. A task that is already
// terminal is not an error: it is returned unchanged, and callers report its status (the
// reference answers "Task <id> is already <status>, cannot cancel").
func (e *Engine) Cancel(ctx context.Context, taskID, msg string) ([]*task.Task, error) {
	t, err := e.cfg.Store.Get(ctx, taskID)
	if err != nil {
		return nil, err
	}
	if t.Status.Terminal() && !t.IsRoot() {
		return []*task.Task{t}, nil
	}
	treeID := t.TreeID()
	for dropped := 0; ; {
		e.mu.Lock()
		r := e.runs[treeID]
		if r == nil {
			out, elsewhere, err := e.cancelNotRunning(ctx, t, treeID, msg)
			e.mu.Unlock()
			if !elsewhere {
				return out, err
			}
			out, done, err := e.cancelThrough(ctx, t, treeID, msg)
			if err != nil || done {
				return out, err
			}
			// The request went with the lease (the run ended, or an edit released it):
			// try again, as the tree is now.
			if dropped++; dropped == maxDroppedCancels {
				return nil, fmt.Errorf("cancel %s: the node coordinating its tree dropped the request %d times; retry", taskID, dropped)
			}
			continue
		}
		e.mu.Unlock()
		out, done, err := e.cancelInRun(ctx, r, taskID, msg)
		if done {
			return out, err
		}
	}
}

// maxDroppedCancels bounds how many times Cancel asks again after its request to another
// node was dropped with the tree's lease.
const maxDroppedCancels = 10

// cancelInRun hands the cancel to the coordinator of a run on this node; done is false
// when the run ended before taking it.
func (e *Engine) cancelInRun(ctx context.Context, r *Run, taskID, msg string) (out []*task.Task, done bool, err error) {
	req := &cancelReq{taskID: taskID, message: msg, reply: make(chan cancelReply, 1)}
	select {
	case r.inbox <- message{kind: msgCancel, cancel: req}:
	case <-r.done:
		return nil, false, nil
	case <-ctx.Done():
		return nil, true, ctx.Err()
	}
	select {
	case rep := <-req.reply:
		return rep.tasks, true, rep.err
	case <-r.done:
		select {
		case rep := <-req.reply:
			return rep.tasks, true, rep.err
		default:
			return nil, false, nil // the run ended before taking the request
		}
	}
}

// cancelTargets returns the nodes a cancel of node i touches: i itself, or every task of
// the tree when i is the root.
func cancelTargets(g *graph, i int32) []int32 {
	if i != g.root {
		return []int32{i}
	}
	out := []int32{i}
	for j, n := range g.nodes {
		if int32(j) != i && !n.v.status.Terminal() {
			out = append(out, int32(j))
		}
	}
	return out
}

// handleCancel cancels tasks of the running tree inside the coordinator, so that a cancel
// and a start of the same task are serialized.
func (c *coordinator) handleCancel(req *cancelReq) {
	i, ok := c.graph.lookup(req.taskID)
	if !ok {
		req.reply <- cancelReply{err: store.NotFound(req.taskID)}
		return
	}
	now := c.engine.cfg.Now()
	var out []*task.Task
	var firstErr error
	// Cancelling the root ends the run (docs/semantics.md rule 14): its cancel removes
	// the run marker, in one transaction with every other cancel, so that a crash cannot
	// leave a cancelled tree to be resumed, nor part of it cancelled and the rest idle.
	// The marker goes with the root's own cancel (endingRun), or after every cancel when
	// the root is not written; were the transaction to fail, every write of it fails
	// (batch.atomic), and the run keeps its marker.
	endsRun := req.taskID == c.run.rootID
	if endsRun {
		c.writes.atomic()
	}
	markerGoes := false
	for _, j := range cancelTargets(c.graph, i) {
		n := c.graph.nodes[j]
		if n.v.status.Terminal() || n.state == stPosting {
			if j == i {
				t, err := c.stored(j)
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("cancel %s: %w", req.taskID, err)
				}
				if t != nil {
					out = append(out, t)
				}
			}
			continue
		}
		if c.clustered() && n.inflight && !n.local {
			c.cancelRemote(j, j == i, req, now, &out)
			continue
		}
		wasRunning := n.state == stRunning
		if c.scope[j] && n.state != stOut {
			if n.state != stBlocked {
				c.settleQ = append(c.settleQ, j)
			}
			n.state = stDone
		}
		if wasRunning {
			n.cancelled = true
		}
		c.predict(n, func(t *task.Task) error { return t.Cancel(req.message, now) })
		cancel := cancelUnlessTerminal(req.message, now)
		if endsRun && j == i {
			cancel, markerGoes = endingRun(cancel), true
		}
		w := c.writes.add(n.v.id, cancel, func(stored *task.Task, err error) {
			if err != nil {
				// The run stops on the store failure; the task stays in_progress in the
				// store (Recover resets it), but its executor is stopped all the same so
				// that the run can end.
				c.fail(err)
				if firstErr == nil {
					firstErr = fmt.Errorf("cancel %s: %w", req.taskID, err)
				}
				if wasRunning && n.cancel != nil {
					n.cancel()
				}
				return
			}
			c.slim(n, stored)
			c.publishTask(stored)
			if wasRunning && n.cancel != nil {
				n.cancel() // committed first, then the executor is stopped
			}
			out = append(out, stored)
		})
		w.dequeue = c.clustered() // drops this node's claim
	}
	if endsRun && !markerGoes {
		c.clearRun()
	}
	c.writes.then(func() { req.reply <- cancelReply{tasks: out, err: firstErr} })
}

// endingRun is fn, the cancel of a root that ends its run, removing the run marker too.
func endingRun(fn func(*task.Task) error) func(*task.Task) error {
	return func(t *task.Task) error {
		if err := fn(t); err != nil {
			return err
		}
		return clearMarker(t)
	}
}

// cancelNotRunning cancels in a tree this engine does not run (e.mu held), holding the
// tree's lease in a cluster so that no run starts meanwhile; elsewhere is true, and
// nothing is done, when another node runs the tree.
func (e *Engine) cancelNotRunning(ctx context.Context, t *task.Task, treeID, msg string) (out []*task.Task, elsewhere bool, err error) {
	release, lease, held, err := e.holdIdle(ctx, treeID)
	if err != nil {
		return nil, false, fmt.Errorf("cancel %s: %w", t.ID, err)
	}
	if held != nil {
		return nil, true, nil
	}
	defer release()
	out, err = e.cancelIdle(ctx, t, treeID, msg, lease)
	return out, false, err
}

// cancelThrough asks the node coordinating the tree to cancel t (cluster.Driver
// RequestCancel) and waits until it has; the coordinator cancels as for its own clients.
// done is false when the request was dropped unanswered: no live lease held the tree,
// or the lease was released (the run ended) before the coordinator took the request.
func (e *Engine) cancelThrough(ctx context.Context, t *task.Task, treeID, msg string) (out []*task.Task, done bool, err error) {
	var before []*task.Task
	if t.IsRoot() {
		if before, err = e.cfg.Store.Tree(ctx, treeID); err != nil {
			return nil, true, fmt.Errorf("cancel %s: load tree: %w", t.ID, err)
		}
	}
	seq, held, err := e.m.d.RequestCancel(ctx, treeID, t.ID, msg)
	if err != nil || !held {
		return nil, err != nil, err
	}
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		in, err := e.m.d.InFeed(ctx, seq)
		if err != nil {
			return nil, true, fmt.Errorf("cancel %s: %w", t.ID, err)
		}
		if !in {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
	now, err := e.cfg.Store.Get(ctx, t.ID)
	if err != nil {
		return nil, true, err
	}
	if !now.Status.Terminal() {
		return nil, false, nil
	}
	return e.cancelledSince(ctx, now, before)
}

// cancelledSince returns the requested task, then, for a root, the tasks of its tree
// that were not terminal before and are cancelled now.
func (e *Engine) cancelledSince(ctx context.Context, requested *task.Task, before []*task.Task) ([]*task.Task, bool, error) {
	out := []*task.Task{requested}
	if len(before) == 0 {
		return out, true, nil
	}
	after, err := e.cfg.Store.Tree(ctx, requested.TreeID())
	if err != nil {
		return nil, true, fmt.Errorf("cancel %s: load tree: %w", requested.ID, err)
	}
	open := make(map[string]bool, len(before))
	for _, x := range before {
		open[x.ID] = !x.Status.Terminal()
	}
	for _, x := range after {
		if x.ID != requested.ID && open[x.ID] && x.Status == task.Cancelled {
			out = append(out, x)
		}
	}
	return out, true, nil
}

// cancelIdle cancels tasks of a tree that no engine runs and marks their dependents
// blocked, in one transaction. In a cluster (lease, the tree's, held) it also drops the
// cancelled tasks' queue entries and claims: a run whose coordinator died leaves tasks
// executing on other nodes, which are told and stop them, as for a coordinator's cancel
// (cancelRemote).
func (e *Engine) cancelIdle(ctx context.Context, t *task.Task, treeID, msg string, lease *cluster.Lease) ([]*task.Task, error) {
	tasks, err := e.cfg.Store.Tree(ctx, treeID)
	if err != nil {
		return nil, fmt.Errorf("cancel %s: load tree: %w", t.ID, err)
	}
	g := newGraph(tasks)
	i, ok := g.lookup(t.ID)
	if !ok {
		return nil, store.NotFound(t.ID)
	}
	if g.nodes[i].v.status.Terminal() && i != g.root {
		return []*task.Task{g.nodes[i].t}, nil
	}
	now := e.cfg.Now()
	var b batch
	var out []*task.Task
	var firstErr error
	settled := map[int32]string{} // node -> state word its dependents see
	var queue []int32
	// The tree's run (interrupted, or stored to run and not started: ToRun) is cancelled
	// with its root, which Recover must then not resume: the marker goes with the root's
	// cancel, or after every cancel when the root is not written, all in one transaction
	// (see handleCancel).
	endsRun := i == g.root && g.nodes[i].t.Run != nil
	if i == g.root {
		b.atomic()
	}
	markerGoes := false
	for _, j := range cancelTargets(g, i) {
		n := g.nodes[j]
		if n.v.status.Terminal() {
			if j == i {
				out = append(out, n.t)
			}
			continue
		}
		settled[j] = string(task.Cancelled)
		queue = append(queue, j)
		cancel := cancelUnlessTerminal(msg, now)
		if endsRun && j == i {
			cancel, markerGoes = endingRun(cancel), true
		}
		b.add(n.v.id, cancel, func(stored *task.Task, err error) {
			if err != nil {
				firstErr = err
				return
			}
			out = append(out, stored)
			e.events.publishTask(e.rootIDOfGraph(g), stored)
		}).dequeue = lease != nil
	}
	e.blockDependents(g, &b, settled, queue, now, nil)
	if endsRun && !markerGoes {
		b.add(g.nodes[i].v.id, clearMarker, func(_ *task.Task, err error) {
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	var w writer = storeWriter{e.cfg.Store}
	if lease != nil {
		var acks []int64 // none: this is no run's round
		w = clusterWriter{d: e.m.d, lease: *lease, acks: &acks}
	}
	b.commit(ctx, w)
	if firstErr != nil {
		return out, fmt.Errorf("cancel %s: %w", t.ID, firstErr)
	}
	return out, nil
}

// blockDependents adds to b the blocked markers (docs/semantics.md rule 13) of the
// pending dependents, transitively, of the nodes in queue, which settled maps to what
// their dependents see of them ("cancelled", "failed"; "blocked" for those marked here).
// failed, when not nil, is told of a marker's write that failed.
func (e *Engine) blockDependents(g *graph, b *batch, settled map[int32]string, queue []int32, now time.Time, failed func(error)) {
	for len(queue) > 0 {
		j := queue[0]
		queue = queue[1:]
		for _, ed := range g.nodes[j].dependents {
			d := ed.node
			nd := g.nodes[d]
			if _, done := settled[d]; done || nd.v.status != task.Pending {
				continue
			}
			dep := nd.v.deps[ed.k]
			if !dep.Required && settled[j] != "blocked" {
				continue
			}
			reason := blockedReason(dep, settled[j])
			settled[d] = "blocked"
			queue = append(queue, d)
			if nd.v.err == reason {
				continue
			}
			b.add(nd.v.id, func(t *task.Task) error {
				if t.Status == task.Pending {
					t.Error, t.UpdatedAt = reason, now
				}
				return nil
			}, func(stored *task.Task, err error) {
				switch {
				case err == nil:
					e.events.publishTask(e.rootIDOfGraph(g), stored)
				case failed != nil:
					failed(err)
				}
			})
		}
	}
}

func (e *Engine) rootIDOfGraph(g *graph) string {
	if g.root < 0 {
		return ""
	}
	return g.nodes[g.root].v.id
}

// cancelRemote cancels a queued or claimed task of a cluster run: the cancel drops its
// queue entry or claim (the node executing it is told and stops it, and its late outcome
// is fenced out), and the task settles as stored, since its node may have finished it
// just before: then it is not reported as cancelled, unless it is the one requested.
func (c *coordinator) cancelRemote(j int32, requested bool, req *cancelReq, now time.Time, out *[]*task.Task) {
	n := c.graph.nodes[j]
	c.unflight(n)
	n.state = stPosting // neither started nor settled again until the write is back
	c.inflight++
	c.writes.add(n.v.id, cancelUnlessTerminal(req.message, now), func(stored *task.Task, err error) {
		c.inflight--
		n.state = stDone
		c.settleQ = append(c.settleQ, j)
		if err != nil {
			c.fail(err)
			return
		}
		c.slim(n, stored)
		c.publishTask(stored)
		if requested || stored.Status == task.Cancelled {
			*out = append(*out, stored)
		}
	}).dequeue = true
}

// cancelUnlessTerminal is the mutation of a cancel: a task that reached a terminal status
// meanwhile keeps it.
func cancelUnlessTerminal(msg string, now time.Time) func(*task.Task) error {
	return func(t *task.Task) error {
		if t.Status.Terminal() {
			return nil
		}
		return t.Cancel(msg, now)
	}
}
