package engine

import "context"

// Execution slots. Engine.sem holds one token per task that holds a slot, engine-wide. A
// run takes a token before it queues a task's start transition and gives it back only
// once the task's terminal state (or, on shutdown, its reset to pending) is committed. So
// no reader of the store ever sees more than Config.Concurrency tasks in_progress, and
// with one slot a task starts no earlier than the previous one ended (its completed_at is
// the time its executor returned, before the slot is freed).
//
// Group commit is kept: a start queued in the same round as a terminal write may take
// over that write's slot. The start is queued after the terminal write, so the two become
// durable in the same transaction or the terminal one first, and the start's executor is
// dispatched only after its own write is committed.

// takeSlot takes a slot for a start about to be queued: a slot retiring in this round if
// there is one, else a free slot of the engine. It reports false when none is free.
func (c *coordinator) takeSlot() bool {
	if c.retiring > 0 {
		c.retiring--
		return true
	}
	return c.engine.trySlot()
}

// retire marks the slot of a task whose terminal write was just queued: the round's
// commit frees it, unless a start queued later in the round takes it over.
func (c *coordinator) retire() { c.retiring++ }

// freeSlot gives a slot back to the engine at once; only for a task whose terminal state
// is already committed (or that never reached the store as in_progress).
func (c *coordinator) freeSlot() {
	<-c.engine.sem
	if c.engine.m != nil {
		poke(c.engine.m.claimWake) // the claimer may take the slot for a queued task
	}
}

// commit commits the round's writes, then frees the retiring slots that no start took
// over. A slot is freed even when its terminal write failed: the store failure stops the
// run (its task stays in_progress in the store until Recover resets it).
func (c *coordinator) commit(ctx context.Context) {
	w := c.writer()
	c.writes.commit(ctx, w)
	if cw, ok := w.(clusterWriter); ok && len(c.acks) > 0 {
		// No write carried the feed's acknowledgements: a round of their own.
		if _, err := cw.writeMany(ctx, nil); err != nil {
			c.engine.cfg.Logger.Warn("acknowledging settled entries failed; they are read again", "root", c.run.rootID, "error", err)
		}
	}
	for ; c.retiring > 0; c.retiring-- {
		c.freeSlot()
	}
}

// trySlot takes an execution slot if one is free.
func (e *Engine) trySlot() bool {
	select {
	case e.sem <- struct{}{}:
		return true
	default:
		return false
	}
}
