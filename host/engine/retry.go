package engine

import (
	"math/rand/v2"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/retry"
	"github.com/apflow-wasm/apflow/host/task"
)

// Retries (docs/retries.md). A failed attempt that its policy retries is not an outcome:
// outcome.apply writes it to the attempt history and puts the task back to pending
// until its next attempt (task.AwaitRetry), in the same write that a final outcome
// would have been. The task is not terminal, so its dependents wait. The coordinator
// parks it (state stWaiting) without a slot, and makes it ready again once
// retry.next_attempt_at has come (releaseDue, from the loop; wait sleeps until then).
// Everything it needs is in the stored task, so a run resumed after a crash or taken
// over by another node parks it again for what is left of the wait (makeReady); a
// cancel cancels it as any pending task. In cluster mode a claimed attempt's wait comes
// back through the tree's settled feed (onSettled).

// fail records a failed attempt of the given kind.
func (o *outcome) fail(kind retry.Kind, msg string) {
	o.failed, o.msg = true, msg
	o.failure = retry.Failure{Kind: kind, Message: msg}
}

// policyOf resolves the retry policy of a task executed by the executor described by
// info: the task's params.retry, then the executor's, then the operator's. A stored
// params.retry that does not parse (checked at submission and update, so only an older
// store's) is left out, and said so.
func (e *Engine) policyOf(t *task.Task, info *executor.Info) retry.Policy {
	var own, exec retry.Spec
	if raw, ok := t.Params["retry"]; ok && raw != nil {
		s, err := retry.Parse(raw, "params.retry")
		if err != nil {
			e.cfg.Logger.Warn("ignoring an invalid retry policy", "task", t.ID, "error", err)
		}
		own = s
	}
	if info != nil && info.Retry != nil {
		exec = *info.Retry
	}
	return retry.Resolve(own, exec, e.cfg.Retry)
}

// recordAttempt writes the attempt the outcome ends to t's history when its policy
// allows more than one attempt, and reports whether the task waits for another one: it
// then is pending again (task.AwaitRetry).
func (o *outcome) recordAttempt(t *task.Task) (waits bool, err error) {
	if o.policy.MaxAttempts <= 1 {
		return false, nil
	}
	a := task.Attempt{Attempt: t.NextAttempt(), StartedAt: t.StartedAt, EndedAt: o.ended}
	if o.usage != nil {
		a.DurationMS = o.usage.DurationMS
	}
	if o.failed {
		a.Error, a.Kind = o.msg, string(o.failure.Kind)
		if a.Attempt < o.policy.MaxAttempts && o.policy.Retries(o.failure) {
			next := o.ended.Add(o.policy.Delay(a.Attempt, o.draw))
			return true, t.AwaitRetry(a, o.policy.MaxAttempts, next, o.ended)
		}
	}
	t.RecordAttempt(a, o.policy.MaxAttempts)
	return false, nil
}

// drawJitter draws the random part of a failed attempt's backoff once, so that the
// coordinator's prediction and the write agree.
func (o *outcome) drawJitter() {
	if o.failed && o.policy.MaxAttempts > 1 {
		o.draw = rand.Float64()
	}
}

// awaitRetry writes the failed attempt of node i (just predicted as waiting for a retry,
// n.t) and parks it; the slot retires with the round.
func (c *coordinator) awaitRetry(i int32, apply func(*task.Task) error, token int64) {
	n := c.graph.nodes[i]
	c.park(i)
	c.writes.add(n.t.ID, func(t *task.Task) error {
		if t.Status != task.InProgress {
			return nil // cancelled meanwhile: never overwritten
		}
		return apply(t)
	}, func(stored *task.Task, err error) {
		if err != nil {
			c.fail(err)
			return
		}
		n.t = stored
		c.publishTask(stored)
		if n.state == stWaiting && stored.Status.Terminal() {
			// Changed meanwhile (not by this run: its cancels go through this
			// coordinator); settle it as stored.
			n.state = stDone
			c.settleQ = append(c.settleQ, i)
		}
	})
	c.endsClaim(n.t.ID, token)
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
	n.t = t
	c.publishTask(t)
	if n.local {
		n.cancelled = true
		if n.cancel != nil {
			n.cancel()
		}
		return
	}
	c.unflight(n)
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
		case starting && !n.t.Retry.NextAttemptAt.After(now):
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
		if n.state != stWaiting {
			continue
		}
		if at := n.t.Retry.NextAttemptAt; !ok || at.Before(first) {
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
	return n.t.WaitingRetry() && n.t.Retry.NextAttemptAt.After(c.engine.cfg.Now())
}
