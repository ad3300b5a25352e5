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
}

// batch collects the writes of one round of a run's coordinator.
type batch struct {
	writes []write
	thens  []func()
}

// then runs fn after the next commit (at once if nothing is pending by then).
func (b *batch) then(fn func()) { b.thens = append(b.thens, fn) }

func (b *batch) add(id string, fn func(*task.Task) error, after func(*task.Task, error)) {
	b.writes = append(b.writes, write{m: store.Mutation{ID: id, Fn: fn}, after: after})
}

// addStart queues a start transition (see write.start).
func (b *batch) addStart(id string, fn func(*task.Task) error, after func(*task.Task, error)) {
	b.writes = append(b.writes, write{m: store.Mutation{ID: id, Fn: fn}, after: after, start: true})
}

func (b *batch) empty() bool { return len(b.writes) == 0 && len(b.thens) == 0 }

// commit writes the batch in transactions of at most maxBatch mutations, in order, and
// then runs the after functions. When a transaction fails as a whole, its mutations are
// retried one by one so that one bad task cannot hold back the others; but once one of
// them has failed, the start transitions after it are not attempted (they fail with
// errNotStarted): a task may have become ready through a completion queued before it, and
// it must not start unless that completion is committed (docs/semantics.md rule 17).
func (b *batch) commit(ctx context.Context, st store.Store) {
	ws, thens := b.writes, b.thens
	b.writes, b.thens = nil, nil
	defer func() {
		for _, fn := range thens {
			fn()
		}
	}()
	failed := false // a write of this round failed: later starts are not attempted
	for len(ws) > 0 {
		n := min(len(ws), maxBatch)
		chunk := ws[:n]
		ws = ws[n:]
		muts := make([]store.Mutation, n)
		for i, w := range chunk {
			muts[i] = w.m
		}
		var stored []*task.Task
		var err error
		if !failed {
			stored, err = st.UpdateMany(ctx, muts)
		}
		if !failed && err == nil && len(stored) == n {
			for i, w := range chunk {
				if w.after != nil {
					w.after(stored[i], nil)
				}
			}
			continue
		}
		for _, w := range chunk {
			if w.start && failed {
				if w.after != nil {
					w.after(nil, fmt.Errorf("start task %s: %w", w.m.ID, errNotStarted))
				}
				continue
			}
			t, err := st.Update(ctx, w.m.ID, w.m.Fn)
			if err != nil {
				failed = true
				err = fmt.Errorf("write task %s: %w", w.m.ID, err)
			}
			if w.after != nil {
				w.after(t, err)
			}
		}
	}
}
