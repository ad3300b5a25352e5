package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

type msgKind uint8

const (
	msgOutcome  msgKind = iota // a worker finished
	msgPostDone                // post-hooks of a completed task finished
	msgCancel                  // Cancel of a task of this tree
)

// message is what the coordinator of a run receives.
type message struct {
	kind   msgKind
	idx    int32
	out    *outcome
	cancel *cancelReq
}

// coordinator runs one run: it owns the run's index of tasks, decides which ready task
// starts when a slot is free, turns workers' outcomes into terminal transitions and
// commits each round's writes together. Only the run's goroutine (loop) touches it.
type coordinator struct {
	run    *Run
	engine *Engine
	graph  *graph     // the run's tree, indexed once when the run starts
	scope  []bool     // by node: part of this run
	queue  readyQueue // ready tasks by priority, then submission order
	writes batch      // the writes of the current round, committed together

	settleQ  []int32 // settled nodes whose dependents are not yet updated
	inflight int     // dispatched jobs not yet returned, plus tasks in post-hooks
	retiring int     // slots freed by the round's commit (see slots.go)
	heldRoot int32   // dependency-free root waiting for the end (docs/semantics.md rule 10), or -1
	closing  bool    // Close has begun: no task starts any more
	fatal    error   // the store failure that stopped the run
	// Cluster mode (cluster.go): remote counts the in-flight tasks that are queued or
	// claimed (a share of inflight); acks are the settled-feed entries settled and not
	// yet acknowledged; handled holds those of the last read, so that one read again
	// before its acknowledgement commits is not handled twice.
	// queued orders the remote ones, so that no task starts here before one queued
	// ahead of it.
	remote  int
	queued  queuedTasks
	acks    []int64
	handled map[int64]bool
	// parked are the nodes waiting for their next attempt (retry.go); entries whose
	// node left stWaiting are dropped lazily.
	parked []int32
	// infos caches the executors' descriptions by method for the run.
	infos map[string]*executor.Info
}

// settledPoll is how often a cluster coordinator reads its tree's settled feed when no
// notice woke it (notices can be lost while the database connection is re-established).
const settledPoll = time.Second

// loop is the run's goroutine.
func (r *Run) loop() {
	e := r.e
	c := &coordinator{run: r, engine: e, heldRoot: -1, infos: map[string]*executor.Info{}}
	ctx := context.Background()
	defer c.finish(ctx)
	if err := c.load(ctx); err != nil {
		c.fatal = err
		return
	}
	e.events.publishRun(EventRunStart, r.rootID, e.cfg.Now(), nil)
	c.treeEvent(ctx, TreeStarted, "", "")
	c.init()
	if c.clustered() {
		c.pollSettled(ctx) // outcomes written while no node coordinated the tree
	}
	for {
		c.propagate()
		waiting := c.releaseDue()
		if c.inflight == 0 && !waiting && !c.queue.ready() && c.canStart() && c.heldRoot >= 0 && c.graph.nodes[c.heldRoot].state == stHeld {
			c.makeReady(c.heldRoot)
		}
		c.startReady()
		if !c.writes.empty() || c.retiring > 0 || len(c.acks) > 0 {
			// A cancel that arrived while this round was prepared joins it, so a start
			// it overtakes is never dispatched (docs/semantics.md rule 14).
			c.drain()
			c.commit(ctx) // frees the retiring slots even when no write is queued
		}
		if len(c.settleQ) > 0 || !c.writes.empty() {
			continue
		}
		if c.clustered() && !c.canStart() && c.inflight == c.remote {
			// Stopping (closing, or the lease is lost): the queued and claimed tasks go
			// on without this coordinator; the next one finds them in the database.
			return
		}
		held := c.heldRoot >= 0 && c.graph.nodes[c.heldRoot].state == stHeld
		if c.inflight == 0 && (!c.canStart() || !c.queue.ready() && !held && !waiting) {
			return // a task waiting for a retry when the engine closes keeps the run marker
		}
		if c.inflight == 0 && held && !c.queue.ready() && !waiting {
			continue // the next round releases the root
		}
		c.wait()
	}
}

// canStart reports whether the run may start tasks. Once Close has begun no task starts,
// even before the coordinator's wait has seen the closing signal.
func (c *coordinator) canStart() bool {
	if !c.closing && c.engine.isClosing() {
		c.closing = true
	}
	if c.fatal == nil && c.run.lost.Load() {
		c.fail(fmt.Errorf("run of %s: %w", c.run.rootID, cluster.ErrFenced))
	}
	return !c.closing && c.fatal == nil
}

// resolveLinks gives every link of the tree (origin_type "link", docs/semantics.md rule 16) its
// original's result in memory (resolveLink).
func (c *coordinator) resolveLinks(ctx context.Context, tasks []*task.Task) error {
	for i, t := range tasks {
		r, err := c.resolveLink(ctx, t)
		if err != nil {
			return err
		}
		tasks[i] = r
	}
	return nil
}

// resolveLink returns a link (origin_type "link", docs/semantics.md rule 16) with its
// original's data, so that dependents get the original's data injected, and any other
// task as it is. Links are completed and never executed; nothing is written.
func (c *coordinator) resolveLink(ctx context.Context, t *task.Task) (*task.Task, error) {
	if !t.IsLink() {
		return t, nil
	}
	orig, err := c.engine.cfg.Store.Get(ctx, t.OriginalTaskID)
	if err != nil {
		return nil, fmt.Errorf("link %s: original %s: %w", t.ID, t.OriginalTaskID, err)
	}
	return t.WithOriginalData(orig), nil
}

// load reads the tree once, builds the index and resets what the run re-executes.
func (c *coordinator) load(ctx context.Context) error {
	r := c.run
	var queued map[string]bool
	if c.clustered() {
		// Queued entries before the tree: a task that finishes in between is terminal in
		// the tree and its feed entry is ignored; no task is queued meanwhile (this lease
		// is held). The feed is read after the load, so no outcome is missed.
		var err error
		if queued, err = c.engine.m.d.Queued(ctx, r.treeID); err != nil {
			return fmt.Errorf("run of %s: %w", r.rootID, err)
		}
	}
	if err := c.loadGraph(ctx); err != nil {
		return fmt.Errorf("run of %s: %w", r.rootID, err)
	}
	c.queue.g = c.graph
	c.queued.q.g = c.graph
	if _, ok := c.graph.lookup(r.rootID); !ok {
		return fmt.Errorf("run of %s: the root is not in tree %s", r.rootID, r.treeID)
	}
	target := int32(-1)
	if r.opts.TaskID != "" {
		i, ok := c.graph.lookup(r.opts.TaskID)
		if !ok {
			return fmt.Errorf("run of %s: task %s is not in tree %s", r.rootID, r.opts.TaskID, r.treeID)
		}
		if !r.opts.resume {
			target = i // a resume does not re-run the target once it has completed
		}
		c.scope = c.graph.scopeFor(i)
	} else {
		c.scope = c.graph.scopeAll()
	}
	n := 0
	for _, in := range c.scope {
		if in {
			n++
		}
	}
	r.tasks.Store(int64(n))
	c.loadQueued(queued)
	now := c.engine.cfg.Now()
	var resets []int32
	for _, i := range c.graph.resetSet(c.scope, r.opts.Full, r.opts.resume, target) {
		if !c.graph.nodes[i].inflight { // else queued or claimed: it runs on some node (cluster mode)
			resets = append(resets, i)
		}
	}
	// The run marker goes first, then the resets, in one transaction however many they
	// are, so that a crash keeps all or none of them (were that transaction to fail, all
	// of them fail: batch.atomic); without resets the marker joins the first round's
	// commit (see markRun).
	c.markRun()
	if len(resets) == 0 {
		return c.fatal
	}
	for _, i := range resets {
		nd := c.graph.nodes[i]
		c.writes.add(nd.v.id, func(t *task.Task) error {
			if !needsReset(t) {
				return nil
			}
			return t.Reset(now)
		}, c.keep(nd, true))
	}
	c.writes.atomic()
	c.commit(ctx)
	return c.fatal
}

// init computes every in-scope task's count of unsettled dependencies and queues what is
// ready. Pending tasks start unblocked: blocking is recomputed from their dependencies.
func (c *coordinator) init() {
	g := c.graph
	for i, n := range g.nodes {
		if !c.scope[i] || n.inflight { // in flight: queued or claimed (loadQueued)
			continue
		}
		switch {
		case n.v.status.Terminal() || n.v.frozen: // links and archives never run (docs/semantics.md rule 16)
			n.state = stDone
			n.unannounced = c.run.opts.resume && c.clustered()
		case n.v.status == task.Pending:
			n.state = stIdle
		default: // in_progress outside a resume: left alone, never settles
			n.state = stOut
		}
	}
	for i, n := range g.nodes {
		if !c.scope[i] || n.state != stIdle {
			continue
		}
		if int32(i) == g.root && len(n.deps) == 0 {
			n.state = stHeld
			c.heldRoot = int32(i)
			continue
		}
		reason := ""
		for k, j := range n.deps {
			dep := n.v.deps[k]
			if j < 0 {
				if dep.Required {
					reason = fmt.Sprintf("%srequired dependency %s not found", task.BlockedPrefix, dep.ID)
					break
				}
				continue
			}
			dn := g.nodes[j]
			switch {
			case dn.state == stDone || !c.scope[j] && dn.v.status.Terminal():
				if dep.Required && dn.v.status != task.Completed {
					reason = blockedReason(dep, string(dn.v.status))
				}
			case dn.state == stIdle || dn.state == stHeld || dn.state == stReady || dn.state == stRunning ||
				dn.state == stWaiting:
				n.waiting++
			case dn.state == stBlocked:
				reason = blockedReason(dep, "blocked")
			default:
				// A dependency outside a TaskID run that has not finished: this task
				// (an ancestor of the target) is not part of the run.
				n.state = stOut
			}
			if n.state == stOut {
				break
			}
			if reason != "" {
				break
			}
		}
		if n.state == stOut {
			continue
		}
		if reason != "" {
			n.state = stBlocked
			c.markBlocked(int32(i), reason)
			continue
		}
		if n.waiting == 0 {
			c.makeReady(int32(i))
		}
	}
}

func requiredWord(d task.Dependency) string {
	if d.Required {
		return "required"
	}
	return "optional"
}

// blockedReason is the error of a task blocked by dependency d in the given state:
// "blocked: required dependency <id> <status>".
func blockedReason(d task.Dependency, status string) string {
	return fmt.Sprintf("%s%s dependency %s %s", task.BlockedPrefix, requiredWord(d), d.ID, status)
}

// markBlocked records the blocked marker of node i (state already stBlocked) and queues
// the settling of its dependents.
func (c *coordinator) markBlocked(i int32, reason string) {
	n := c.graph.nodes[i]
	c.settleQ = append(c.settleQ, i)
	if n.v.err == reason {
		return
	}
	now := c.engine.cfg.Now()
	c.writes.add(n.v.id, func(t *task.Task) error {
		if t.Status != task.Pending {
			return nil
		}
		t.Error = reason
		t.UpdatedAt = now
		return nil
	}, c.keep(n, true))
	c.predict(n, func(t *task.Task) error {
		t.Error = reason
		return nil
	})
}

// keep returns the write callback that records node n's task, slim (snapshot.go),
// for a write of a task that is not in flight (and, with publish, tells subscribers about
// the stored task); a failed write stops the run.
func (c *coordinator) keep(n *node, publish bool) func(*task.Task, error) {
	return func(stored *task.Task, err error) {
		if err != nil {
			c.fail(err)
			return
		}
		c.slim(n, stored)
		if publish {
			c.publishTask(stored)
		}
	}
}

// makeReady puts node i on the ready heap, or parks it while its next attempt is not
// yet due (retry.go).
func (c *coordinator) makeReady(i int32) {
	if c.waitsForRetry(c.graph.nodes[i]) {
		c.park(i)
		return
	}
	c.graph.nodes[i].state = stReady
	c.queue.push(i)
}

// propagate settles the dependents of every node in settleQ, iteratively: a dependent
// whose last dependency settled becomes ready; one whose required dependency did not
// complete (or any dependency is blocked) becomes blocked and settles in turn.
func (c *coordinator) propagate() {
	g := c.graph
	for len(c.settleQ) > 0 {
		j := c.settleQ[len(c.settleQ)-1]
		c.settleQ = c.settleQ[:len(c.settleQ)-1]
		nj := g.nodes[j]
		for _, e := range nj.dependents {
			d := e.node
			nd := g.nodes[d]
			if !c.scope[d] || nd.state != stIdle {
				continue
			}
			reason := ""
			dep := nd.v.deps[e.k]
			switch {
			case nj.state == stBlocked:
				reason = blockedReason(dep, "blocked")
			case dep.Required && nj.v.status != task.Completed:
				reason = blockedReason(dep, string(nj.v.status))
			default:
				nd.waiting--
			}
			if reason != "" {
				nd.state = stBlocked
				c.markBlocked(d, reason)
				continue
			}
			if nd.waiting == 0 {
				c.makeReady(d)
			}
		}
	}
}

// startReady starts ready tasks while execution slots are free.
func (c *coordinator) startReady() {
	if c.clustered() {
		// A ready task runs here when this node has a free slot and none of the run's
		// queued or claimed tasks not yet settled orders before it (queuedTasks):
		// started and claimed in this round, executed without a trip through the queue.
		// The others are queued for any node's claimer (cluster.go), which claims in
		// the same order.
		for c.canStart() && c.queue.ready() {
			i := c.queue.pop()
			if !c.engine.cfg.ClusterClient && !c.queued.ahead(i) && c.takeSlot() {
				c.prepareStart(i)
			} else {
				c.prepareQueue(i)
			}
		}
		return
	}
	for c.canStart() && c.queue.ready() && c.takeSlot() {
		c.prepareStart(c.queue.pop())
	}
}

// wait blocks until a worker reports, a slot frees up for a ready task, or the engine
// starts closing; then it takes every message already queued. The round is committed
// when wait runs, so no slot of the run is retiring.
func (c *coordinator) wait() {
	var slot chan<- struct{}
	if c.canStart() && c.queue.ready() && !c.clustered() {
		slot = c.engine.sem
	}
	var closing <-chan struct{}
	if !c.closing {
		closing = c.engine.closing
	}
	var wake <-chan struct{}
	var poll <-chan time.Time
	if c.clustered() {
		wake = c.run.wake
		t := time.NewTimer(settledPoll)
		defer t.Stop()
		poll = t.C
	}
	var due <-chan time.Time
	if d, ok := c.nextDue(); ok && c.canStart() {
		t := time.NewTimer(d)
		defer t.Stop()
		due = t.C
	}
	select {
	case <-due: // the loop's releaseDue makes the task ready
	case m := <-c.run.inbox:
		c.handle(m)
	case slot <- struct{}{}:
		c.prepareStart(c.queue.pop())
	case <-closing:
		c.closing = true
	case <-wake:
		c.pollSettled(context.Background())
	case <-poll:
		c.pollSettled(context.Background())
	}
	c.drain()
}

// drain handles the messages already queued, without waiting.
func (c *coordinator) drain() {
	for {
		select {
		case m := <-c.run.inbox:
			c.handle(m)
		default:
			return
		}
	}
}

func (c *coordinator) handle(m message) {
	switch m.kind {
	case msgOutcome:
		c.handleOutcome(m.out)
	case msgPostDone:
		n := c.graph.nodes[m.idx]
		c.inflight--
		if n.state == stPosting {
			n.state = stDone
			c.settleQ = append(c.settleQ, m.idx)
		}
	case msgCancel:
		c.handleCancel(m.cancel)
	}
}

// fail records a store failure: the run stops starting tasks and ends once nothing is in
// flight.
func (c *coordinator) fail(err error) {
	if c.fatal != nil {
		return
	}
	c.fatal = err
	if errors.Is(err, cluster.ErrFenced) {
		c.engine.cfg.Logger.Warn("lost the lease of a run: another node took it over; this node stops coordinating it", "root", c.run.rootID)
		return
	}
	c.engine.cfg.Logger.Error("run stopped: store write failed", "root", c.run.rootID, "error", err)
}

// info describes the executor of a method, cached for the run.
func (c *coordinator) info(method string) *executor.Info {
	if in, ok := c.infos[method]; ok {
		return in
	}
	var in *executor.Info
	if method != "" {
		if h, err := c.engine.cfg.Catalog.Lookup(method); err == nil {
			in = h.Info()
			h.Release()
		}
	}
	c.infos[method] = in
	return in
}
