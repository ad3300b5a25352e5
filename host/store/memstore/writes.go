package memstore

import (
	"cmp"
	"context"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Create implements store.Store. The tasks are checked (store.CheckNew) and put in their
// stored form before the write waits for its turn; nothing is stored if any id exists.
func (s *Store) Create(ctx context.Context, tasks []*task.Task) error {
	if len(tasks) == 0 {
		return nil
	}
	put, err := store.EncodeNew(tasks, canonical)
	if err != nil {
		return err
	}
	return s.write(ctx, func(st *state) (change, error) {
		for _, t := range put {
			if st.tasks[t.ID] != nil {
				return change{}, store.Exists(t.ID)
			}
		}
		return change{put: put}, nil
	})
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	out, err := s.UpdateMany(ctx, []store.Mutation{{ID: id, Fn: fn}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// UpdateMany implements store.Store. It returns one task per mutation, in order: the task
// as it was after that mutation.
func (s *Store) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	if len(muts) == 0 {
		return []*task.Task{}, nil
	}
	out := make([]*task.Task, len(muts))
	err := s.write(ctx, func(st *state) (change, error) {
		now := time.Now()
		latest := make(map[string]*task.Task, len(muts)) // after the mutations so far
		var order []string
		for i, m := range muts {
			cur := latest[m.ID]
			if cur == nil {
				if cur = st.tasks[m.ID]; cur == nil {
					return change{}, store.NotFound(m.ID)
				}
				order = append(order, m.ID)
			}
			next, err := store.Step(cur, m.Fn, now)
			if err != nil {
				return change{}, err
			}
			// fn may keep next: store and return what decoding its encoding gives.
			if latest[m.ID], err = canonical(next); err != nil {
				return change{}, err
			}
			out[i] = latest[m.ID].Clone()
		}
		put := make([]*task.Task, len(order))
		for i, id := range order {
			put[i] = latest[id]
		}
		return change{put: put}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete implements store.Store. Deleting an id that does not exist fails with
// TaskNotFound and deletes nothing. When several tasks block a deletion, the error names
// the first child in Children's order, else the dependent with the smallest id.
func (s *Store) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.write(ctx, func(st *state) (change, error) {
		doomed := make(set, len(ids))
		for _, id := range ids {
			doomed[id] = struct{}{}
		}
		var del []string
		done := make(set, len(ids))
		for _, id := range ids {
			if _, ok := done[id]; ok {
				continue
			}
			done[id] = struct{}{}
			if st.tasks[id] == nil {
				return change{}, store.NotFound(id)
			}
			if other := st.firstOutside(st.byParent[id], doomed, byPriority); other != "" {
				return change{}, store.DeleteBlocked(id, other, "child")
			}
			byID := func(a, b *task.Task) int { return cmp.Compare(a.ID, b.ID) }
			if other := st.firstOutside(st.byDep[id], doomed, byID); other != "" {
				return change{}, store.DeleteBlocked(id, other, "dependent")
			}
			del = append(del, id)
		}
		return change{del: del}, nil
	})
}

// firstOutside returns the id of the first task of s, in order, that is not in doomed,
// or "".
func (st *state) firstOutside(s, doomed set, order func(a, b *task.Task) int) string {
	var first *task.Task
	for id := range s {
		if _, ok := doomed[id]; ok {
			continue
		}
		if t := st.tasks[id]; first == nil || order(t, first) < 0 {
			first = t
		}
	}
	if first == nil {
		return ""
	}
	return first.ID
}
