package engine

import (
	"context"
	"fmt"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// maxBatch bounds the mutations of one store transaction.
const maxBatch = 1000

// write is one mutation and what to do once it is committed (stored is the task as
// stored; err is set when it could not be written).
type write struct {
	m     store.Mutation
	after func(stored *task.Task, err error)
}

// batch collects the writes of one scheduling round.
type batch struct {
	writes []write
	thens  []func()
}

// then runs fn after the next commit (at once if nothing is pending by then).
func (b *batch) then(fn func()) { b.thens = append(b.thens, fn) }

func (b *batch) add(id string, fn func(*task.Task) error, after func(*task.Task, error)) {
	b.writes = append(b.writes, write{m: store.Mutation{ID: id, Fn: fn}, after: after})
}

func (b *batch) empty() bool { return len(b.writes) == 0 && len(b.thens) == 0 }

// commit writes the batch in transactions of at most maxBatch mutations, in order, and
// then runs the after functions. When a transaction fails as a whole, its mutations are
// retried one by one so that one bad task cannot hold back the others.
func (b *batch) commit(ctx context.Context, st store.Store) {
	ws, thens := b.writes, b.thens
	b.writes, b.thens = nil, nil
	defer func() {
		for _, fn := range thens {
			fn()
		}
	}()
	for len(ws) > 0 {
		n := min(len(ws), maxBatch)
		chunk := ws[:n]
		ws = ws[n:]
		muts := make([]store.Mutation, n)
		for i, w := range chunk {
			muts[i] = w.m
		}
		stored, err := st.UpdateMany(ctx, muts)
		if err == nil && len(stored) == n {
			for i, w := range chunk {
				if w.after != nil {
					w.after(stored[i], nil)
				}
			}
			continue
		}
		for _, w := range chunk {
			t, err := st.Update(ctx, w.m.ID, w.m.Fn)
			if err != nil {
				err = fmt.Errorf("write task %s: %w", w.m.ID, err)
			}
			if w.after != nil {
				w.after(t, err)
			}
		}
	}
}
