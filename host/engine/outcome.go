package engine

import (
	"context"

	"github.com/apflow-wasm/apflow/host/task"
)

// handleOutcome turns a worker's outcome into the task's terminal transition. The
// in-memory snapshot is updated at once (so dependents started in the same round see the
// result), and the write joins the round's transaction.
func (s *sched) handleOutcome(o *outcome) {
	n := s.g.nodes[o.idx]
	n.inflight = false
	n.cancel = nil
	s.inflight--
	s.r.running.Add(-1)
	if n.state != stRunning || n.cancelled {
		return // cancelled while running: the late result is discarded (docs/semantics.md rule 14)
	}
	now := s.e.cfg.Now()
	if o.interrupted {
		// Shutdown: back to pending durably, so that Recover resumes the task (the run
		// keeps its marker: finish sees the task idle).
		n.state = stIdle
		s.b.add(n.t.ID, func(t *task.Task) error {
			if t.Status != task.InProgress {
				return nil
			}
			return t.Reset(now)
		}, s.storedAfter(n))
		return
	}
	apply := func(t *task.Task) error {
		t.Plugin = o.plugin
		t.Usage = o.usage
		t.HookErrors = o.hookErrors
		if o.inputsChanged {
			t.Inputs = o.inputs
		}
		if o.failed {
			return t.Fail(o.msg, o.result, now)
		}
		return t.Complete(o.result, now)
	}
	before := n.t
	predicted := *n.t
	if err := apply(&predicted); err != nil {
		s.fail(err)
		return
	}
	n.t = &predicted
	s.r.finished.Add(1)
	posting := predicted.Status == task.Completed && s.e.cfg.Hooks != nil
	if posting {
		n.state = stPosting
		s.inflight++
	} else {
		n.state = stDone
		s.settleQ = append(s.settleQ, o.idx)
	}
	s.b.add(n.t.ID, func(t *task.Task) error {
		if t.Status != task.InProgress {
			return nil // cancelled meanwhile: never overwritten
		}
		return apply(t)
	}, func(stored *task.Task, err error) {
		if err != nil {
			s.fail(err)
			if posting {
				// The post-hooks will never run: nothing else gives back their share of
				// inflight. The task stays in_progress in the store (Recover resets it)
				// and never settles in this run.
				s.inflight--
				n.state = stOut
				n.t = before
			}
			return
		}
		n.t = stored
		s.publishTask(stored)
		if posting {
			s.post(o.idx, stored, o.inputs)
		}
	})
}

// storedAfter returns an after function that records the stored snapshot and publishes it.
func (s *sched) storedAfter(n *node) func(*task.Task, error) {
	return func(stored *task.Task, err error) {
		if err != nil {
			s.fail(err)
			return
		}
		n.t = stored
		s.publishTask(stored)
	}
}

// post runs the post-hooks of a completed task on its own goroutine; the task's
// dependents are released when they are done (docs/semantics.md rule 19).
func (s *sched) post(i int32, t *task.Task, inputs map[string]any) {
	e, r := s.e, s.r
	go func() {
		errs := e.cfg.Hooks.Post(e.killCtx, t.Clone(), task.CloneValue(inputs).(map[string]any), task.CloneValue(t.Result))
		if len(errs) > 0 {
			msgs := make([]string, len(errs))
			for k, err := range errs {
				msgs[k] = "post-hook: " + err.Error()
				e.cfg.Logger.Warn("post-hook failed", "task", t.ID, "error", err)
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
func (s *sched) publishTask(t *task.Task) {
	if !s.e.events.active() {
		return
	}
	s.e.events.publish(Event{Type: EventTaskStatus, RootID: s.r.rootID, TaskID: t.ID, Status: t.Status,
		Progress: t.Progress, Error: t.Error, Time: t.UpdatedAt, Task: t})
}
