package engine

import (
	"fmt"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// prepareStart queues the start transition of ready node i (a slot is already held):
// dependency results are injected and the merged inputs persisted in the same write
// (docs/semantics.md rule 11); the executor is dispatched once the write is committed (docs/semantics.md rule 17).
func (c *coordinator) prepareStart(i int32) {
	n := c.graph.nodes[i]
	injected := c.launch(i)
	n.local = c.clustered()

	h, lookupErr := c.engine.lookup(n.v.id, n.v.method)
	if h != nil {
		if method := n.v.method; c.infos[method] == nil {
			c.infos[method] = h.Info()
		}
	}

	now := c.engine.cfg.Now()
	var token int64
	var inputs map[string]any
	w := c.writes.addStart(n.v.id, func(t *task.Task) error {
		if t.Status != task.Pending {
			return nil // cancelled meanwhile: not started
		}
		if err := t.Start(now); err != nil {
			return err
		}
		inputs = injected(t)
		return nil
	}, func(stored *task.Task, err error) {
		if err != nil || stored.Status != task.InProgress {
			if h != nil {
				h.Release()
			}
			c.freeSlot()
			n.inflight, n.local = false, false
			c.inflight--
			if err != nil {
				n.state = stIdle
				c.fail(err)
				return
			}
			// Someone else changed the task; settle it as it is stored.
			c.slim(n, stored)
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
			n.inflight, n.local = false, false
			c.inflight--
			c.retire()
			return
		}
		if c.clustered() && token == 0 {
			// Started but not claimed: a claim of the task exists, which cannot happen
			// while this run holds the tree's lease. Stop the run; the next one settles it.
			if h != nil {
				h.Release()
			}
			c.freeSlot()
			n.inflight, n.local = false, false
			c.inflight--
			n.state = stOut
			c.fail(fmt.Errorf("task %s was started but its claim could not be taken", n.v.id))
			return
		}
		c.set(n, stored)
		c.publishTask(stored)
		c.dispatch(i, stored, inputs, h, lookupErr)
		if c.clustered() {
			n.token = token
			c.engine.m.register(cluster.Claim{Task: stored, RootID: c.run.rootID, Token: token}, n.cancel)
		}
	})
	if c.clustered() {
		w.claim, w.token = true, &token
	}
}

// launch marks ready node i in flight and returns the function that sets the task's
// inputs to its own with its dependencies' results injected (docs/semantics.md rule 11),
// keeping the own ones (task.Task.SetAttemptInputs), and returns them. Its write calls it
// on the stored task (the node keeps no inputs, snapshot.go), with what the dependencies'
// views hold now.
func (c *coordinator) launch(i int32) func(*task.Task) map[string]any {
	g := c.graph
	n := g.nodes[i]
	n.state = stRunning
	n.inflight = true
	c.inflight++
	deps := make([]settled, len(n.deps))
	c.info(n.v.method)
	for k, j := range n.deps {
		if j >= 0 {
			v := &g.nodes[j].v
			deps[k] = settled{status: v.status, result: v.result, method: v.method}
			c.info(v.method)
		}
	}
	// The executors' descriptions are cached above: the write only reads them, on
	// whatever goroutine the store runs it.
	infos := c.infos
	info := func(method string) *executor.Info { return infos[method] }
	return func(t *task.Task) map[string]any {
		inputs, merged := inject(t, deps, info)
		if merged {
			t.SetAttemptInputs(inputs)
		} else {
			t.SetOwnInputs(inputs) // the own inputs, copied: an earlier attempt's are dropped
		}
		return inputs
	}
}
