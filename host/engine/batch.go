package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// errNotStarted is the error of a start transition left out of a failed round.
var errNotStarted = errors.New("not started: an earlier write of the same round failed")

// maxBatch bounds the mutations of one store transaction.
const maxBatch = 1000

// write is one mutation and what to do once it is committed (stored is the task as
// stored; err is set when it could not be written).
type write struct {
	m     store.Mutation
	after func(stored *task.Task, err error)
	// start marks a start transition: the executor is dispatched once it is committed, so
	// it must not be committed without the writes queued before it (see commit).
	start bool
	// queue (cluster mode): the task is queued for claiming if pending once written.
	// dequeue (cluster mode): its queue entry or claim is dropped (it was cancelled).
	// claim (cluster mode): the write starts the task and claims it for this node; the
	// writer sets *token. finished (cluster mode): the write is the outcome of this
	// node's claim with that token, which fences it and ends with it.
	queue, dequeue, claim bool
	token                 *int64
	finished              int64
}

// writer commits a chunk of writes in one transaction, all or nothing, returning the task
// after each write: the store's UpdateMany, or in cluster mode a round fenced by the
// tree's lease (cluster.go).
type writer interface {
	writeMany(ctx context.Context, ws []write) ([]*task.Task, error)
}

// storeWriter writes to the store alone (one engine owns it).
type storeWriter struct{ st store.Store }

func (w storeWriter) writeMany(ctx context.Context, ws []write) ([]*task.Task, error) {
	muts := make([]store.Mutation, len(ws))
	for i, x := range ws {
		muts[i] = x.m
	}
	return w.st.UpdateMany(ctx, muts)
}

// batch collects the writes of one round of a run's coordinator.
type batch struct {
	writes []write
	thens  []func()
	// held are the last log lines of the round's outcomes (taskLogs.hold), which the
	// round queues in the store just before its first transaction, which then commits
	// them too (queueHeld).
	held []*heldLines
	// whole commits the round's writes in one transaction, however many (a store's
	// UpdateMany is atomic at any size), so that a crash keeps all of them or none: a
	// re-run's resets with its run marker, a cancel of the root with the marker's removal
	// (docs/semantics.md rule 18). If that transaction fails, every write of it fails: none
	// is retried alone. Set by atomic; reset by commit.
	whole bool
}

// atomic has the round's writes committed in one transaction (whole).
func (b *batch) atomic() { b.whole = true }

// then runs fn after the next commit (at once if nothing is pending by then).
func (b *batch) then(fn func()) { b.thens = append(b.thens, fn) }

// holdLogs has the round queue h (nil for none) ahead of its writes: the held lines of
// a round are queued just before its first transaction and waited for once it is
// committed (which committed the lines too, or came after them), before any after
// function of the round, also in a round without writes.
func (b *batch) holdLogs(h *heldLines) {
	if h != nil {
		b.held = append(b.held, h)
	}
}

// add queues a write and returns it, for the caller to set its cluster flags; the
// pointer is valid until the next write is queued.
func (b *batch) add(id string, fn func(*task.Task) error, after func(*task.Task, error)) *write {
	b.writes = append(b.writes, write{m: store.Mutation{ID: id, Fn: fn}, after: after})
	return &b.writes[len(b.writes)-1]
}

// addQueue queues a write after which the task is queued for claiming (cluster mode).
func (b *batch) addQueue(id string, fn func(*task.Task) error, after func(*task.Task, error)) {
	w := b.addStart(id, fn, after)
	w.queue = true
}

// addStart queues a start transition (see write.start).
func (b *batch) addStart(id string, fn func(*task.Task) error, after func(*task.Task, error)) *write {
	w := b.add(id, fn, after)
	w.start = true
	return w
}

// last returns the write queued last (valid until the next one is queued).
func (b *batch) last() *write { return &b.writes[len(b.writes)-1] }

func (b *batch) empty() bool { return len(b.writes) == 0 && len(b.thens) == 0 && len(b.held) == 0 }

// commit writes the batch in transactions of at most maxBatch mutations (in one when
// atomic was called), in order, and then runs the after functions. When a transaction
// fails as a whole, its mutations are retried one by one so that one bad task cannot
// hold back the others (except in an atomic batch, whose writes then all fail); but once
// one of them has failed, the start transitions after it are not attempted (they fail
// with errNotStarted): a task may have become ready through a completion queued before
// it, and it must not start unless that completion is committed (docs/semantics.md rule
// 17).
func (b *batch) commit(ctx context.Context, w writer) {
	ws, thens, whole := b.writes, b.thens, b.whole
	// Queued together, right before the writes: the lines of a round share its commit
	// instead of each waking the store's committer on its own.
	var linesStored func()
	if len(b.held) > 0 {
		linesStored = queueHeld(ctx, b.held)
	}
	b.writes, b.thens, b.held, b.whole = nil, nil, nil, false
	defer func() {
		for _, fn := range thens {
			fn()
		}
	}()
	logsStored := func() { // once, after the first transaction
		if linesStored != nil {
			linesStored()
			linesStored = nil
		}
	}
	defer logsStored() // a round without writes
	failed := false    // a write of this round failed: later starts are not attempted
	for len(ws) > 0 {
		n := len(ws)
		if !whole {
			n = min(n, maxBatch)
		}
		chunk := ws[:n]
		ws = ws[n:]
		var stored []*task.Task
		var err error
		if !failed {
			stored, err = w.writeMany(ctx, chunk)
		}
		logsStored()
		if !failed && err == nil && len(stored) == n {
			for i, x := range chunk {
				if x.after != nil {
					x.after(stored[i], nil)
				}
			}
			continue
		}
		if whole { // all or none: its writes are not retried one by one
			if err == nil {
				err = fmt.Errorf("the store returned %d tasks for %d writes", len(stored), n)
			}
			for _, x := range chunk {
				if x.after != nil {
					x.after(nil, fmt.Errorf("write task %s: %w", x.m.ID, err))
				}
			}
			continue
		}
		for _, x := range chunk {
			if x.start && failed {
				if x.after != nil {
					x.after(nil, fmt.Errorf("start task %s: %w", x.m.ID, errNotStarted))
				}
				continue
			}
			var t *task.Task
			one, err := w.writeMany(ctx, []write{x})
			if err != nil {
				failed = true
				err = fmt.Errorf("write task %s: %w", x.m.ID, err)
			} else {
				t = one[0]
			}
			if x.after != nil {
				x.after(t, err)
			}
		}
	}
}
