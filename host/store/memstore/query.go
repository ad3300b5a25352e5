package memstore

import (
	"context"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// copies returns deep copies of shared stored tasks, in order, as a non-nil slice.
func copies(ts []*task.Task) []*task.Task {
	out := make([]*task.Task, len(ts))
	for i, t := range ts {
		out[i] = t.Clone()
	}
	return out
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*task.Task, error) {
	var t *task.Task
	if err := s.read(ctx, func(st *state) { t = st.tasks[id] }); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, store.NotFound(id)
	}
	return t.Clone(), nil
}

// Children implements store.Store: by priority, then seq, then id.
func (s *Store) Children(ctx context.Context, parentID string) ([]*task.Task, error) {
	return s.related(ctx, func(st *state) set { return st.byParent[parentID] }, byPriority)
}

// Tree implements store.Store: by seq, then id.
func (s *Store) Tree(ctx context.Context, treeID string) ([]*task.Task, error) {
	return s.related(ctx, func(st *state) set { return st.byTree[treeID] }, store.SubmissionOrder)
}

// Dependents implements store.Store: in submission order (seq, then id).
func (s *Store) Dependents(ctx context.Context, id string) ([]*task.Task, error) {
	return s.related(ctx, func(st *state) set { return st.byDep[id] }, store.SubmissionOrder)
}

// related returns copies of the tasks of one index entry, sorted by order.
func (s *Store) related(ctx context.Context, of func(st *state) set, order func(a, b *task.Task) int) ([]*task.Task, error) {
	var ts []*task.Task
	if err := s.read(ctx, func(st *state) { ts = st.members(of(st)) }); err != nil {
		return nil, err
	}
	return copies(sorted(ts, order)), nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, f store.Filter) ([]*task.Task, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	offset := max(f.Offset, 0)
	var hits []*task.Task
	if err := s.read(ctx, func(st *state) { hits = st.matching(f) }); err != nil {
		return nil, 0, err
	}
	start := min(offset, len(hits))
	end := start + min(limit, len(hits)-start)
	return copies(sorted(hits, newest)[start:end]), len(hits), nil
}

// Count implements store.Store.
func (s *Store) Count(ctx context.Context, f store.Filter) (int, error) {
	var n int
	err := s.read(ctx, func(st *state) { n = len(st.matching(f)) })
	return n, err
}

// CountByStatus implements store.Store: every count under one read lock.
func (s *Store) CountByStatus(ctx context.Context, f store.Filter) (map[task.Status]int, error) {
	out := map[task.Status]int{}
	f.Status = ""
	err := s.read(ctx, func(st *state) {
		for _, t := range st.matching(f) {
			out[t.Status]++
		}
	})
	return out, err
}

// matching returns the stored tasks that match f (shared, in no order).
func (st *state) matching(f store.Filter) []*task.Task {
	ts := st.candidates(f)
	out := ts[:0]
	for _, t := range ts {
		if matches(f, t) {
			out = append(out, t)
		}
	}
	return out
}

// ScanTree calls fn with a copy of every task of a tree, one at a time, in submission
// order (seq, then id), as Tree returns them; it stops at fn's first error and returns
// it. The tasks are those stored when it was called. A caller that keeps only a part of
// each task (the engine's run) never holds the whole tree copied at once.
func (s *Store) ScanTree(ctx context.Context, treeID string, fn func(*task.Task) error) error {
	var ts []*task.Task
	if err := s.read(ctx, func(st *state) { ts = st.members(st.byTree[treeID]) }); err != nil {
		return err
	}
	for _, t := range sorted(ts, store.SubmissionOrder) {
		if err := fn(t.Clone()); err != nil {
			return err
		}
	}
	return nil
}
