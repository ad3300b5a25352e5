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
		return s.admit(ctx)
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
		return []*task.Task{}, s.admit(ctx)
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
		return s.admit(ctx)
	}
	return s.write(ctx, func(st *state) (change, error) {
		g := deleteGraph{st}
		del, err := store.CheckDelete(ids, g)
		if err != nil {
			return change{}, err
		}
		emptied, err := store.EmptiedParents(del, func(id string) string { return st.tasks[id].ParentID }, g)
		if err != nil {
			return change{}, err
		}
		c := change{del: del}
		for _, id := range emptied {
			p := st.tasks[id].Clone()
			p.HasChildren = false
			c.put = append(c.put, p)
		}
		return c, nil
	})
}

// deleteGraph is the store.DeleteGraph of a state.
type deleteGraph struct{ st *state }

func (g deleteGraph) Exists(id string) (bool, error) { return g.st.tasks[id] != nil, nil }

func (g deleteGraph) ChildOutside(id string, doomed map[string]bool) (string, error) {
	return g.st.firstOutside(g.st.byParent[id], doomed, byPriority), nil
}

func (g deleteGraph) DependentOutside(id string, doomed map[string]bool) (string, error) {
	byID := func(a, b *task.Task) int { return cmp.Compare(a.ID, b.ID) }
	return g.st.firstOutside(g.st.byDep[id], doomed, byID), nil
}

// firstOutside returns the id of the first task of s, in order, that is not in doomed,
// or "".
func (st *state) firstOutside(s set, doomed map[string]bool, order func(a, b *task.Task) int) string {
	var first *task.Task
	for id := range s {
		if doomed[id] {
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
