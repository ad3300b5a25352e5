package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Cluster mode (Config.Cluster set; host/cluster has the design). The same coordinator
// runs a tree, but it holds the tree's lease and fences every write with it; it does not
// execute tasks: it queues the ready ones (prepareQueue), and every node's claimer
// (claim.go) claims, executes and finishes them. The coordinator learns of outcomes from
// its tree's settled feed (pollSettled), woken by notices. The node's loop (member.run)
// renews leases, takes back expired claims and takes over runs no live node coordinates.

// member is this engine's membership of a cluster.
type member struct {
	d     cluster.Driver
	relay *relay // run events to and from other nodes

	mu     sync.Mutex
	claims map[string]*execution // claimed tasks executing here, by task id

	// reserved holds the leases ToRun took for trees about to be stored and started
	// here, by tree id, until Start takes them (guarded by Engine.mu).
	reserved map[string]cluster.Lease

	claimWake chan struct{} // wakes the claimer (cap 1)
	stop      context.CancelFunc
	done      sync.WaitGroup
}

// execution is a claimed task executing on this node.
type execution struct {
	claim  cluster.Claim
	cancel context.CancelFunc
	// writing is set once the executor returned and its outcome is being written: a
	// heartbeat that no longer finds the claim then sees the outcome's own commit.
	writing atomic.Bool
	// lost is set when the claim was found lost (dropped by a cancel, or taken back
	// after a missed lease): the execution was stopped and its outcome is not written.
	lost atomic.Bool
}

func newMember(d cluster.Driver) *member {
	return &member{d: d, claims: map[string]*execution{}, reserved: map[string]cluster.Lease{}, claimWake: make(chan struct{}, 1)}
}

// poke wakes a goroutine waiting on ch (cap 1) without blocking.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// clusterWriter commits a coordinator's writes as one round fenced by its tree lease.
type clusterWriter struct {
	d     cluster.Driver
	lease cluster.Lease
	// acks are the settled-feed entries the coordinator settled; the next round that
	// commits deletes them (see pollSettled).
	acks *[]int64
}

func (w clusterWriter) writeMany(ctx context.Context, ws []write) ([]*task.Task, error) {
	r := cluster.Round{Muts: make([]store.Mutation, len(ws))}
	for i, x := range ws {
		r.Muts[i] = x.m
		if x.queue {
			r.Enqueue = append(r.Enqueue, x.m.ID)
		}
		if x.dequeue {
			r.Dequeue = append(r.Dequeue, x.m.ID)
		}
		if x.claim {
			r.Claim = append(r.Claim, x.m.ID)
		}
		if x.finished != 0 {
			r.Finished = append(r.Finished, cluster.ClaimRef{TaskID: x.m.ID, Token: x.finished})
		}
	}
	r.Ack = *w.acks
	res, err := w.d.CommitRound(ctx, w.lease, r)
	if err != nil {
		return nil, err
	}
	*w.acks = nil
	for _, x := range ws {
		if x.claim {
			*x.token = res.Tokens[x.m.ID]
		}
	}
	return res.Tasks, nil
}

// writer is where the coordinator's rounds go.
func (c *coordinator) writer() writer {
	if c.run.lease != nil {
		return clusterWriter{d: c.engine.m.d, lease: *c.run.lease, acks: &c.acks}
	}
	return storeWriter{c.engine.cfg.Store}
}

// clustered reports whether the run is coordinated through a cluster lease.
func (c *coordinator) clustered() bool { return c.run.lease != nil }

// acquire takes the lease of a tree for a new run (cluster mode): the one ToRun reserved
// for it, else a new one; a tree another node runs answers already_running, as a local
// one does. The caller holds e.mu.
func (e *Engine) acquire(ctx context.Context, treeID, rootID string) (*cluster.Lease, error) {
	if e.m == nil {
		return nil, nil
	}
	if l, ok := e.m.reserved[treeID]; ok {
		delete(e.m.reserved, treeID)
		return &l, nil
	}
	l, err := e.m.d.AcquireTree(ctx, treeID, rootID)
	var held *cluster.HeldError
	if errors.As(err, &held) {
		return nil, alreadyRunning(held.RootID)
	}
	if err != nil {
		return nil, fmt.Errorf("start run of %s: %w", rootID, err)
	}
	return &l, nil
}

// reserve takes the lease of a new tree that ToRun marks, and keeps it for the Start of
// its run on this engine (acquire); held is false, and nothing is kept, when a live node
// holds the lease already. Heartbeats renew it as a run's (beat) until Start takes it or
// unreserve gives it back.
func (e *Engine) reserve(ctx context.Context, treeID, rootID string) (held bool, token int64, err error) {
	l, err := e.m.d.AcquireTree(ctx, treeID, rootID)
	var h *cluster.HeldError
	if errors.As(err, &h) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("lease tree %s (root %s) before storing it: %w", treeID, rootID, err)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.releaseLease(treeID, &l)
		return false, 0, ErrClosed
	}
	e.m.reserved[treeID] = l
	e.mu.Unlock()
	return true, l.Token, nil
}

// unreserve gives back the lease of treeID reserve took with token, unless Start took
// it (or a heartbeat found it lost).
func (e *Engine) unreserve(treeID string, token int64) {
	e.mu.Lock()
	l, ok := e.m.reserved[treeID]
	if ok && l.Token == token {
		delete(e.m.reserved, treeID)
	}
	e.mu.Unlock()
	if ok && l.Token == token {
		e.releaseLease(treeID, &l)
	}
}

// releaseLease gives back a lease acquire took for a run that did not start (nil on a
// single node: nothing to give back).
func (e *Engine) releaseLease(treeID string, l *cluster.Lease) {
	if l == nil || e.m == nil {
		return
	}
	if err := e.m.d.ReleaseTree(context.Background(), *l); err != nil {
		e.cfg.Logger.Warn("releasing a tree lease failed; it expires by itself", "tree", treeID, "error", err)
	}
}

// holdIdle takes the lease of a tree that must stay idle while the caller changes it (an
// update, a delete, a cancel outside a run), so that no node starts a run of it
// meanwhile. held is set, and nothing taken, when a node runs the tree. Single-node
// engines take nothing (e.mu is enough). release gives the lease back.
func (e *Engine) holdIdle(ctx context.Context, treeID string) (release func(), lease *cluster.Lease, held *cluster.HeldError, err error) {
	if e.m == nil {
		return func() {}, nil, nil, nil
	}
	l, err := e.m.d.AcquireTree(ctx, treeID, treeID)
	if errors.As(err, &held) {
		return nil, nil, held, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return func() {
		if err := e.m.d.ReleaseTree(context.Background(), l); err != nil {
			e.cfg.Logger.Warn("releasing a tree lease failed; it expires by itself", "tree", treeID, "error", err)
		}
	}, &l, nil, nil
}

// prepareQueue is prepareStart in cluster mode: ready node i gets its dependency results
// injected and is queued for claiming, in the round's transaction; it counts as in flight
// until its outcome comes back through the settled feed.
func (c *coordinator) prepareQueue(i int32) {
	n := c.graph.nodes[i]
	injected := c.launch(i)
	c.remote++
	c.queued.push(i)
	c.writes.addQueue(n.v.id, func(t *task.Task) error {
		if t.Status != task.Pending {
			return nil // cancelled meanwhile: not queued
		}
		injected(t)
		if t.Retry != nil {
			t.Retry.NextAttemptAt = time.Time{} // queued: no longer waiting
		}
		return nil
	}, func(stored *task.Task, err error) {
		if !n.inflight {
			return // cancelled in the same round: the cancel's write settled it
		}
		if err != nil {
			c.unflight(n)
			n.state = stIdle
			c.fail(err)
			return
		}
		c.set(n, stored)
		if stored.Status != task.Pending {
			c.unflight(n)
			if stored.Status.Terminal() {
				n.state = stDone
				c.settleQ = append(c.settleQ, i)
			} else {
				n.state = stIdle
			}
		}
	})
}

// unflight ends the in-flight accounting of a queued or claimed node.
func (c *coordinator) unflight(n *node) {
	if n.inflight {
		n.inflight = false
		c.inflight--
		c.remote--
	}
}

// pollSettled reads the tree's settled feed and settles what it reports. The entries
// are acknowledged (deleted) by the next round the coordinator commits; until then a
// read returns them again, and settling them again changes nothing.
func (c *coordinator) pollSettled(ctx context.Context) {
	entries, err := c.engine.m.d.ReadSettled(ctx, c.run.treeID)
	if err != nil {
		c.engine.cfg.Logger.Warn("reading the settled feed failed; retrying", "root", c.run.rootID, "error", err)
		return
	}
	c.acks = c.acks[:0]
	handled := make(map[int64]bool, len(entries))
	for _, s := range entries {
		handled[s.Seq] = true
		c.acks = append(c.acks, s.Seq)
		if c.handled[s.Seq] {
			continue
		}
		if s.Cancel {
			// Acknowledged by the round that writes the cancel; read again before that
			// round, the request finds its tasks cancelled already. A request left by
			// an earlier run (its lease vanished unreleased) is only acknowledged.
			if c.run.opts.resume || s.Token == c.run.lease.Token {
				c.handleCancel(&cancelReq{taskID: s.Task.ID, message: s.Message, reply: make(chan cancelReply, 1)})
			}
		} else {
			c.onSettled(s.Task)
		}
	}
	c.handled = handled
}

// onSettled settles a task another node (or this node's claimer) moved to a terminal
// status: an executed task's outcome; or, a failed attempt waiting for its retry, parks
// it (onRetrySettled).
func (c *coordinator) onSettled(t *task.Task) {
	i, ok := c.graph.lookup(t.ID)
	if ok && t.WaitingRetry() {
		c.onRetrySettled(i, t)
		return
	}
	if !ok || !t.Status.Terminal() {
		return
	}
	n := c.graph.nodes[i]
	if n.state == stRunning && n.local {
		// Settled by another node while it executes here (its claim was taken back
		// after this node missed its lease, and it ran again there): settle it as
		// stored now; its execution is stopped and its late outcome discarded
		// (handleOutcome), which also frees its slot and forgets its claim.
		c.slim(n, t)
		n.cancelled = true
		if n.cancel != nil {
			n.cancel()
		}
		c.publishTask(t)
		n.state = stDone
		c.settleQ = append(c.settleQ, i)
		return
	}
	switch n.state {
	case stRunning:
		c.unflight(n)
		c.slim(n, t)
		c.run.finished.Add(1)
		c.publishTask(t)
		if t.Status == task.Completed && c.engine.cfg.Hooks != nil {
			n.state = stPosting
			c.inflight++
			c.post(i, t, t.Inputs)
			return
		}
		n.state = stDone
		c.settleQ = append(c.settleQ, i)
	case stIdle, stReady, stHeld, stWaiting:
		c.slim(n, t)
		c.publishTask(t)
		n.state = stDone
		c.settleQ = append(c.settleQ, i)
	case stDone:
		// Settled before this coordinator took the run over, by a task whose previous
		// coordinator died before reading the entry: its subscribers were never told.
		if n.unannounced {
			n.unannounced = false
			c.publishTask(t)
		}
	}
}

// loadQueued marks the in-scope tasks that are queued or claimed (by a run this one
// continues) as in flight: they run, or will, on some node, and are not reset.
func (c *coordinator) loadQueued(queued map[string]bool) {
	for id := range queued {
		i, ok := c.graph.lookup(id)
		if !ok || !c.scope[i] {
			continue
		}
		n := c.graph.nodes[i]
		if n.v.status != task.Pending && n.v.status != task.InProgress {
			continue
		}
		n.state = stRunning
		n.inflight = true
		c.inflight++
		c.remote++
		c.queued.push(i)
	}
}

// clusterTimeout bounds the database calls of the node's loop.
func (m *member) clusterTimeout() time.Duration { return m.d.LeaseInterval() / 2 }

// releaseLease gives the tree's lease back when the run ends, unless it was lost. A run
// that Close interrupted keeps its marker, so another node takes it over at once.
func (c *coordinator) releaseLease() {
	l := c.run.lease
	if l == nil || errors.Is(c.fatal, cluster.ErrFenced) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.engine.m.clusterTimeout())
	defer cancel()
	if err := c.engine.m.d.ReleaseTree(ctx, *l); err != nil {
		c.engine.cfg.Logger.Warn("releasing the tree lease failed; it expires by itself", "root", c.run.rootID, "error", err)
	}
}

// drainClaims waits for this node's executions to finish, or for ctx; it reports whether
// they all finished.
func (e *Engine) drainClaims(ctx context.Context) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if len(e.m.claimed()) == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// endsClaim makes the write just queued for task id the outcome of this node's claim
// token (none when token is 0): the round is fenced by the claim, which ends with it, and
// the execution is forgotten once the round is committed.
func (c *coordinator) endsClaim(id string, token int64) {
	if token == 0 {
		return
	}
	w := c.writes.last()
	w.finished = token
	after := w.after
	w.after = func(stored *task.Task, err error) {
		c.engine.m.settle(id, token)
		if errors.Is(err, cluster.ErrFenced) {
			c.engine.discarded(id)
		}
		if after != nil {
			after(stored, err)
		}
	}
}

// discarded logs an outcome not written because its claim, or its run's lease, was lost.
func (e *Engine) discarded(id string) {
	e.cfg.Logger.Warn("outcome discarded: the task's claim was lost (cancelled, or taken over after this node missed its lease)", "task", id)
}

// lostLocal handles the outcome of a task this node claimed for itself whose claim was
// lost meanwhile (cancelled elsewhere, or taken back after a missed lease): nothing is
// written; the task stays in flight, now as another node's, and settles through the
// tree's feed, and orders the local starts as a queued task does (queuedTasks). Its slot
// is free once the round is committed.
func (c *coordinator) lostLocal(i int32, token int64) {
	n := c.graph.nodes[i]
	c.engine.m.settle(n.v.id, token)
	c.engine.discarded(n.v.id)
	n.inflight = true
	c.inflight++
	c.remote++
	c.queued.push(i)
	c.retire()
}
