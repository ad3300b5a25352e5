package engine

import (
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// Waiting for a retry (docs/retries.md). The coordinator parks a task whose failed
// attempt waits for its next one (state stWaiting): it holds no slot, and the loop makes
// it ready again once retry.next_attempt_at has come (releaseDue; wait sleeps until the
// earliest of them). Everything this needs is in the stored task, so a run resumed after
// a crash or taken over by another node parks it again for what is left of the wait
// (makeReady, waitsForRetry); a cancel cancels it as any pending task. In cluster mode a
// claimed attempt's wait comes back through the tree's settled feed (onRetrySettled).

// awaitRetry writes the failed attempt of node i (just predicted as waiting for a retry,
// n.t) and parks it; the slot retires with the round.
func (c *coordinator) awaitRetry(i int32, apply func(*task.Task) error, token int64) {
	n := c.graph.nodes[i]
	// Parked now (the run must not end, nor the held root start, while it waits), but
	// released only once the wait is committed: a next attempt started in the same round
	// would start (and, in cluster mode, claim) the task before the write that ends this
	// attempt and its claim.
	c.park(i)
	n.uncommitted = true
	c.writes.add(n.v.id, whileRunning(apply), func(stored *task.Task, err error) {
		if err != nil {
			c.fail(err) // the run stops: the task is never released
			return
		}
		n.uncommitted = false
		c.slim(n, stored)
		c.publishTask(stored)
		switch {
		case n.state != stWaiting: // cancelled in the same round
		case stored.WaitingRetry():
		default:
			// Changed meanwhile (not by this run: its cancels go through this
			// coordinator); settle it as stored.
			n.state = stDone
			c.settleQ = append(c.settleQ, i)
		}
	})
	c.endsClaim(n.v.id, token)
	c.retire()
}

// onRetrySettled handles a settled-feed entry of a claimed attempt that failed and waits
// for its retry (cluster mode): the node is parked. One executing here meanwhile (its
// claim was taken back after this node missed its lease) is stopped first, and parked
// when its stale outcome comes back (handleOutcome).
func (c *coordinator) onRetrySettled(i int32, t *task.Task) {
	n := c.graph.nodes[i]
	if n.state != stRunning {
		return // parked already, or settled since: the entry is an old one
	}
	c.publishTask(t)
	if n.local {
		c.set(n, t)
		n.cancelled = true
		if n.cancel != nil {
			n.cancel()
		}
		return
	}
	c.unflight(n)
	c.slim(n, t)
	c.park(i)
}

// park puts node i aside until its next attempt is due.
func (c *coordinator) park(i int32) {
	c.graph.nodes[i].state = stWaiting
	c.parked = append(c.parked, i)
}

// releaseDue makes ready the parked nodes whose next attempt is due (none once the run
// may start nothing), and forgets those that left stWaiting (cancelled). It reports
// whether any node is still parked.
func (c *coordinator) releaseDue() bool {
	if len(c.parked) == 0 {
		return false
	}
	now, starting := c.engine.cfg.Now(), c.canStart()
	kept := c.parked[:0]
	for _, i := range c.parked {
		n := c.graph.nodes[i]
		switch {
		case n.state != stWaiting:
		case starting && !n.uncommitted && !n.v.retry.NextAttemptAt.After(now):
			n.state = stReady
			c.queue.push(i)
		default:
			kept = append(kept, i)
		}
	}
	c.parked = kept
	return len(kept) > 0
}

// nextDue is how long until the earliest parked node's next attempt; ok is false when
// no node is parked.
func (c *coordinator) nextDue() (d time.Duration, ok bool) {
	var first time.Time
	for _, i := range c.parked {
		n := c.graph.nodes[i]
		if n.state != stWaiting || n.uncommitted {
			continue // an uncommitted wait is committed by this round, then looked at again
		}
		if at := n.v.retry.NextAttemptAt; !ok || at.Before(first) {
			first, ok = at, true
		}
	}
	if !ok {
		return 0, false
	}
	return max(first.Sub(c.engine.cfg.Now()), 0), true
}

// waitsForRetry reports whether a task that became ready must first wait for its next
// attempt (a run resumed, or taken over, during a backoff).
func (c *coordinator) waitsForRetry(n *node) bool {
	return n.v.waitingRetry() && n.v.retry.NextAttemptAt.After(c.engine.cfg.Now())
}
