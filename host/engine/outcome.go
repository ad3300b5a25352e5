package engine

import (
	"context"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// handleOutcome turns a worker's outcome into the task's terminal transition, stamped
// with the time the executor returned. The in-memory snapshot is updated at once (so
// dependents started in the same round see the result), and the write joins the round's
// transaction; the task's slot is freed by that transaction (see retire).
func (c *coordinator) handleOutcome(o *outcome) {
	c.writes.holdLogs(o.logs)
	n := c.graph.nodes[o.idx]
	n.inflight = false
	n.cancel = nil
	c.inflight--
	c.run.running.Add(-1)
	token := n.token
	n.token, n.local = 0, false
	if token != 0 && n.state == stRunning && !n.cancelled && c.engine.m.lostClaim(n.v.id, token) {
		c.lostLocal(o.idx, token)
		return
	}
	if n.state != stRunning || n.cancelled {
		if token != 0 {
			c.engine.m.settle(n.v.id, token)
		}
		// Cancelled while running: the late result is discarded (docs/semantics.md rule
		// 14). The cancel write may still be queued in this round (the cancel and the
		// outcome arrived together), so the slot retires: the round's commit frees it
		// once the cancel is durable, and a start queued after it may take it over.
		c.retire()
		if n.state == stRunning && n.v.waitingRetry() {
			// Not a cancel: the attempt failed on another node meanwhile (onSettled) and
			// waits for its retry; this stale execution is over.
			n.cancelled = false
			c.park(o.idx)
		}
		return
	}
	if o.interrupted {
		// Shutdown: back to pending durably, so that Recover resumes the task (the run
		// keeps its marker: finish sees the task idle).
		now := c.engine.cfg.Now()
		n.state = stIdle
		c.writes.add(n.v.id, func(t *task.Task) error {
			if t.Status != task.InProgress {
				return nil
			}
			return t.Reset(now)
		}, c.storedAfter(n))
		c.endsClaim(n.v.id, token)
		c.retire()
		return
	}
	apply := o.apply
	before := n.t
	predicted := *n.t // in flight: kept whole
	if err := apply(&predicted); err != nil {
		if token != 0 {
			c.engine.m.settle(n.v.id, token)
		}
		c.fail(err)
		c.freeSlot()
		return
	}
	c.set(n, &predicted)
	if predicted.Status == task.Pending {
		c.awaitRetry(o.idx, apply, token)
		return
	}
	c.run.finished.Add(1)
	posting := predicted.Status == task.Completed && c.engine.cfg.Hooks != nil
	if posting {
		n.state = stPosting
		c.inflight++
	} else {
		n.state = stDone
		c.settleQ = append(c.settleQ, o.idx)
	}
	c.writes.add(n.v.id, whileRunning(apply), func(stored *task.Task, err error) {
		if err != nil {
			c.fail(err)
			if posting {
				// The post-hooks will never run: nothing else gives back their share of
				// inflight. The task stays in_progress in the store (Recover resets it)
				// and never settles in this run.
				c.inflight--
				n.state = stOut
				c.set(n, before)
			}
			return
		}
		c.slim(n, stored)
		c.publishTask(stored)
		if posting {
			c.post(o.idx, stored, o.inputs)
		}
	})
	c.endsClaim(n.v.id, token)
	c.retire()
}

// whileRunning is the write of an outcome: apply, unless the task is no longer
// in_progress (cancelled meanwhile: a cancel is never overwritten).
func whileRunning(apply func(*task.Task) error) func(*task.Task) error {
	return func(t *task.Task) error {
		if t.Status != task.InProgress {
			return nil
		}
		return apply(t)
	}
}

// storedAfter returns an after function that records the view (snapshot.go) of
// a task no longer in flight and publishes the stored task.
func (c *coordinator) storedAfter(n *node) func(*task.Task, error) {
	return func(stored *task.Task, err error) {
		if err != nil {
			c.fail(err)
			return
		}
		c.slim(n, stored)
		c.publishTask(stored)
	}
}

// post runs the post-hooks of a completed task on its own goroutine; the task's
// dependents are released when they are done (docs/semantics.md rule 19).
func (c *coordinator) post(i int32, t *task.Task, inputs map[string]any) {
	e, r := c.engine, c.run
	go func() {
		errs := e.cfg.Hooks.Post(executor.WithLogTee(asCaller(e.killCtx, t), e.logs.hookTee(r.rootID, t, t.EndedAttempt())), t.Clone(), task.CloneValue(inputs).(map[string]any), task.CloneValue(t.Result))
		if len(errs) > 0 {
			msgs := make([]string, len(errs))
			for k, err := range errs {
				msgs[k] = "post-hook: " + err.Error()
			}
			_, err := e.cfg.Store.Update(context.Background(), t.ID, func(st *task.Task) error {
				if st.Status == task.Completed {
					st.HookErrors = append(st.HookErrors, msgs...)
				}
				return nil
			})
			if err != nil {
				e.cfg.Logger.Error("recording post-hook errors failed", "task", t.ID, "error", err)
			}
		}
		r.inbox <- message{kind: msgPostDone, idx: i}
	}()
}

// publishTask publishes a task_status event for a stored snapshot.
func (c *coordinator) publishTask(t *task.Task) {
	if !c.engine.events.wants(EventTaskStatus) {
		return
	}
	c.engine.events.publish(Event{Type: EventTaskStatus, RootID: c.run.rootID, TaskID: t.ID, Status: t.Status,
		Progress: t.Progress, Error: t.Error, Time: t.UpdatedAt, Task: t})
}

// apply records the outcome on the task: its terminal transition, stamped with the time
// the executor returned, and what the execution reported; or, for a failed attempt its
// retry policy retries, the wait for the next attempt (retry.go).
func (o *outcome) apply(t *task.Task) error {
	t.Plugin = o.plugin
	t.Usage = o.usage
	t.HookErrors = o.hookErrors
	if o.inputsChanged {
		t.SetHookedInputs(o.inputsBefore, o.inputs)
	}
	if waits, err := o.recordAttempt(t); waits || err != nil {
		return err
	}
	if o.failed {
		return t.Fail(o.msg, o.result, o.ended)
	}
	return t.Complete(o.result, o.ended)
}
