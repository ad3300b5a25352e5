package store

import (
	"cmp"
	"context"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// Schedules finds scheduled tasks (schedule_type set). Every backend implements it
// (checked by storetest.RunSchedules), each from an index kept in the same transaction
// as the tasks, so a task is found by what it was last written as.
//
// Guarantees:
//   - Due returns exactly the tasks DueMatches accepts, in DueOrder: the enabled
//     schedules whose next_run_at has come, oldest first.
//   - Scheduled returns one page of the tasks ScheduleMatches accepts, in
//     ScheduledOrder (next_run_at ascending, tasks without one last), and their total.
//   - Both read a consistent state: never half of a write.
//
// Pitfall: a due task may be claimed by another scheduler (or disabled by an update)
// between Due and the caller's next write; a caller that acts on a due task must check
// it again inside its store.Update (see host/scheduler).
type Schedules interface {
	// Due returns the enabled schedules due at q.Before, oldest first, at most q.Limit.
	Due(ctx context.Context, q DueQuery) ([]*task.Task, error)
	// Scheduled returns one page of the scheduled tasks matching q and their number.
	Scheduled(ctx context.Context, q ScheduleQuery) ([]*task.Task, int, error)
}

// DueQuery selects due schedules for Schedules.Due.
type DueQuery struct {
	// Before is the time the schedules are due at: next_run_at <= Before.
	Before time.Time
	// UserID keeps only the tasks of this user ("" keeps all).
	UserID string
	// Idle leaves out tasks that are in_progress.
	Idle bool
	// Limit is the most tasks returned: 0 means DefaultLimit, capped at MaxLimit.
	Limit int
}

// ScheduleQuery selects scheduled tasks for Schedules.Scheduled. Zero fields do not
// filter.
type ScheduleQuery struct {
	EnabledOnly bool        // only schedule_enabled tasks
	UserID      string      // only tasks of this user
	Type        string      // only this schedule_type
	Status      task.Status // only tasks in this status
	Limit       int         // page size; 0 means DefaultLimit, capped at MaxLimit
	Offset      int         // tasks to skip
}

// Scheduled reports whether t has a schedule (schedule_type set): whether
// Schedules.Scheduled may list it.
func Scheduled(t *task.Task) bool { return t.ScheduleType != "" }

// Armed reports whether t is a schedule that will come due: enabled, with a type and a
// next_run_at. Due considers only such tasks.
func Armed(t *task.Task) bool {
	return t.ScheduleEnabled && t.ScheduleType != "" && !t.NextRunAt.IsZero()
}

// DueMatches reports whether Due returns t for q.
func DueMatches(q DueQuery, t *task.Task) bool {
	return Armed(t) && !t.NextRunAt.After(q.Before) &&
		(q.UserID == "" || t.UserID == q.UserID) &&
		(!q.Idle || t.Status != task.InProgress)
}

// ScheduleMatches reports whether Scheduled lists t for q.
func ScheduleMatches(q ScheduleQuery, t *task.Task) bool {
	return Scheduled(t) && (!q.EnabledOnly || t.ScheduleEnabled) &&
		(q.UserID == "" || t.UserID == q.UserID) &&
		(q.Type == "" || t.ScheduleType == q.Type) &&
		(q.Status == "" || t.Status == q.Status)
}

// DueOrder is the order of Due: next_run_at, then id.
func DueOrder(a, b *task.Task) int {
	if c := a.NextRunAt.Compare(b.NextRunAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// ScheduledOrder is the order of Scheduled: next_run_at ascending with tasks without one
// last, then id.
func ScheduledOrder(a, b *task.Task) int {
	switch az, bz := a.NextRunAt.IsZero(), b.NextRunAt.IsZero(); {
	case az && !bz:
		return 1
	case bz && !az:
		return -1
	}
	return DueOrder(a, b)
}

// PageBounds returns the limit and offset a query asks for, as every backend applies
// them: limit 0 is DefaultLimit, capped at MaxLimit; a negative offset is 0.
func PageBounds(limit, offset int) (int, int) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return min(limit, MaxLimit), max(offset, 0)
}
