package memstore

import (
	"context"
	"slices"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

var _ store.Schedules = (*Store)(nil)

// fileSchedule adds (or removes) t in the index of scheduled tasks, kept in the same
// critical section as the tasks. The index holds every task with a schedule_type; Due
// and Scheduled filter and sort its members, so each costs O(k log k) for k scheduled
// tasks, whatever the number of other tasks.
func (st *state) fileSchedule(t *task.Task, add bool) {
	switch {
	case add && store.Scheduled(t):
		st.sched[t.ID] = struct{}{}
	case !add:
		delete(st.sched, t.ID)
	}
}

// Due implements store.Schedules.
func (s *Store) Due(ctx context.Context, q store.DueQuery) ([]*task.Task, error) {
	limit, _ := store.PageBounds(q.Limit, 0)
	var hits []*task.Task
	err := s.read(ctx, func(st *state) {
		for id := range st.sched {
			if t := st.tasks[id]; store.DueMatches(q, t) {
				hits = append(hits, t)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(hits, store.DueOrder)
	return copies(hits[:min(limit, len(hits))]), nil
}

// Scheduled implements store.Schedules.
func (s *Store) Scheduled(ctx context.Context, q store.ScheduleQuery) ([]*task.Task, int, error) {
	limit, offset := store.PageBounds(q.Limit, q.Offset)
	var hits []*task.Task
	err := s.read(ctx, func(st *state) {
		for id := range st.sched {
			if t := st.tasks[id]; store.ScheduleMatches(q, t) {
				hits = append(hits, t)
			}
		}
	})
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(hits, store.ScheduledOrder)
	start := min(offset, len(hits))
	end := start + min(limit, len(hits)-start)
	return copies(hits[start:end]), len(hits), nil
}
