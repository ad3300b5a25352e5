package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// The operations of an external scheduler (tasks.scheduled.due, .init, .complete and
// the apflow tasks scheduled commands), one copy for the API and the CLI. Errors are
// apferr errors naming the task and the field.

// Updater is the store write the bookkeeping needs.
type Updater interface {
	Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error)
}

// DueIdle returns the enabled schedules due at before that an external scheduler may
// run: not in_progress, under max_runs, within schedule_end_at; oldest first.
func DueIdle(ctx context.Context, sch store.Schedules, before time.Time, userID string, limit int) ([]*task.Task, error) {
	limit, _ = store.PageBounds(limit, 0)
	due, err := sch.Due(ctx, store.DueQuery{Before: before, UserID: userID, Idle: true, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("find due schedules: %w", err)
	}
	// next_run_at honours max_runs and schedule_end_at when it is computed; a task
	// changed behind the computation (run_count set by hand) is left out here too.
	out := due[:0]
	for _, t := range due {
		if (t.MaxRuns > 0 && t.RunCount >= t.MaxRuns) || (!t.ScheduleEndAt.IsZero() && t.NextRunAt.After(t.ScheduleEndAt)) {
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// Init computes and stores the next_run_at of task id's schedule from from (the first
// run after from, at or after schedule_start_at, within schedule_end_at and max_runs;
// none for a disabled schedule).
func Init(ctx context.Context, st Updater, id string, from time.Time) (*task.Task, error) {
	return st.Update(ctx, id, func(t *task.Task) error {
		if t.ScheduleType == "" {
			return ParamError(t, "schedule_type", "the task has no schedule")
		}
		next, err := schedule.NextRun(t, from)
		if err != nil {
			return scheduleError(t, err)
		}
		t.NextRunAt = next
		return nil
	})
}

// Complete records a run of task id made at now (Advance); with calculateNext false the
// stored next_run_at is kept unless the schedule ends (max_runs reached, end passed, a
// once schedule).
func Complete(ctx context.Context, st Updater, id string, now time.Time, calculateNext bool) (*task.Task, error) {
	return st.Update(ctx, id, func(t *task.Task) error {
		if t.ScheduleType == "" {
			return ParamError(t, "schedule_type", "the task has no schedule")
		}
		kept := t.NextRunAt
		if err := Advance(t, time.Time{}, now, true); err != nil {
			return scheduleError(t, err)
		}
		if !calculateNext && t.ScheduleEnabled {
			t.NextRunAt = kept
		}
		return nil
	})
}

// scheduleError maps a schedule's error to -32602 naming the task and the field.
func scheduleError(t *task.Task, err error) error {
	field := "schedule_expression"
	if fe, ok := err.(*schedule.FieldError); ok {
		field, err = fe.Field, fe.Err
	}
	return ParamError(t, field, err.Error())
}

// ParamError is the -32602 error of a task's schedule field, naming the task (in the
// message and data.task_id) and the field.
func ParamError(t *task.Task, field, reason string) *apferr.Error {
	e := apferr.InvalidParam(field, fmt.Sprintf("task %s: %s", t.ID, reason), nil, nil)
	e.Data.(map[string]any)["task_id"] = t.ID
	return e
}
