package engine

import (
	"github.com/apflow-wasm/apflow/host/task"
)

// prepareStart queues the start transition of ready node i (a slot is already held):
// dependency results are injected and the merged inputs persisted in the same write
// (docs/semantics.md rule 11); the executor is dispatched once the write is committed (docs/semantics.md rule 17).
func (c *coordinator) prepareStart(i int32) {
	n := c.graph.nodes[i]
	inputs := c.launch(i)

	h, lookupErr := c.engine.lookup(n.t)
	if h != nil {
		if method := n.t.Method(); c.infos[method] == nil {
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

// launch marks ready node i in flight and returns its inputs with its dependencies'
// results injected (docs/semantics.md rule 11).
func (c *coordinator) launch(i int32) map[string]any {
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
	return inject(n.t, deps, c.info)
}
