package engine

import (
	"fmt"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// prepareStart queues the start transition of ready node i (a slot is already held):
// dependency results are injected and the merged inputs persisted in the same write
// (docs/semantics.md rule 11); the executor is dispatched once the write is committed (docs/semantics.md rule 17).
func (c *coordinator) prepareStart(i int32) {
	g := c.graph
	n := g.nodes[i]
	n.state = stRunning
	n.inflight = true
	c.inflight++

	deps := make([]*task.Task, len(n.deps))
	for k, j := range n.deps {
		if j >= 0 {
			deps[k] = g.nodes[j].t
		}
	}
	inputs := inject(n.t, deps, c.info)

	var h executor.Handle
	var lookupErr error
	method := n.t.Method()
	if method == "" {
		//lint:ignore ST1005 apflow's task error text, kept verbatim for its clients
		lookupErr = fmt.Errorf("Executor ID not specified for task %s (set schemas.method or params.executor_id)", n.t.ID)
	} else if hh, err := c.engine.cfg.Catalog.Lookup(method); err != nil {
		//lint:ignore ST1005 apflow's task error text, kept verbatim for its clients
		lookupErr = fmt.Errorf("Executor '%s' could not be loaded for task %s: %w", method, n.t.ID, err)
	} else {
		h = hh
		if _, ok := c.infos[method]; !ok {
			c.infos[method] = h.Info()
		}
	}

	now := c.engine.cfg.Now()
	c.writes.addStart(n.t.ID, func(t *task.Task) error {
		if t.Status != task.Pending {
			return nil // cancelled meanwhile: not started
		}
		if err := t.Start(now); err != nil {
			return err
		}
		t.Inputs = inputs
		return nil
	}, func(stored *task.Task, err error) {
		if err != nil || stored.Status != task.InProgress {
			if h != nil {
				h.Release()
			}
			c.freeSlot()
			n.inflight = false
			c.inflight--
			if err != nil {
				n.state = stIdle
				c.fail(err)
				return
			}
			// Someone else changed the task; settle it as it is stored.
			n.t = stored
			if stored.Status.Terminal() {
				n.state = stDone
				c.settleQ = append(c.settleQ, i)
			} else {
				n.state = stIdle
			}
			return
		}
		if n.cancelled {
			// Cancelled in the round that queued the start: the cancel write follows the
			// start in this transaction, so it is committed too. The executor never runs
			// (docs/semantics.md rule 14); the slot is freed by this commit.
			if h != nil {
				h.Release()
			}
			n.inflight = false
			c.inflight--
			c.retire()
			return
		}
		n.t = stored
		c.publishTask(stored)
		c.dispatch(i, stored, inputs, h, lookupErr)
	})
}
