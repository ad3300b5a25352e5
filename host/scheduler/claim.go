package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Reasons of an Outcome.
const (
	ReasonDue       = "due"        // on time: run
	ReasonMissedRun = "missed_run" // missed, policy run_once: run once now
	ReasonMissed    = "missed"     // missed, policy skip: advanced without running
	ReasonOverlap   = "overlap"    // the tree was running, policy skip: advanced without running
	ReasonInvalid   = "invalid"    // the stored schedule does not parse: disabled
)

// ErrTaken is the refusal of a claim whose occurrence is no longer due as seen: another
// scheduler claimed it, or the schedule was changed or disabled meanwhile.
var ErrTaken = errors.New("the occurrence is no longer due: claimed elsewhere or rescheduled")

// ErrWait is the refusal of a claim whose tree is running under the overlap policy
// wait: nothing is written and the occurrence stays due.
var ErrWait = errors.New("the tree is running and the overlap policy is wait")

// Outcome is what a claim decided for one occurrence.
type Outcome struct {
	// Task is the scheduled task as the claim stored it.
	Task *task.Task
	// Due is the occurrence claimed (next_run_at as it was seen).
	Due time.Time
	// Run is true when the tree is to run now.
	Run bool
	// Reason says why (Reason* constants).
	Reason string
	// Err is the schedule's error for ReasonInvalid.
	Err error
}

// Claim claims the occurrence due of scheduled task id at now in one store write (see
// the package's guarantees). busy says whether the task's tree is running (the store
// write also treats an in_progress task as busy); missedAfter is how late an
// occurrence may be and still run as planned. It fails with ErrTaken or ErrWait, or the
// store's error, having written nothing.
func Claim(ctx context.Context, st Store, id string, due, now time.Time, missedAfter time.Duration, busy bool) (Outcome, error) {
	out := Outcome{Due: due}
	stored, err := st.Update(ctx, id, func(t *task.Task) error {
		out = Outcome{Due: due}
		if !store.Armed(t) || !t.NextRunAt.Equal(due) {
			return ErrTaken
		}
		// Checked when written (submission, tasks.update): a policy that does not read
		// back acts as the default.
		pol, err := schedule.PolicyOf(t)
		if err != nil {
			pol, _ = schedule.PolicyOf(&task.Task{ScheduleType: t.ScheduleType})
		}
		late := now.Sub(due) > missedAfter
		switch {
		case (busy || t.Status == task.InProgress) && pol.Overlap == schedule.OverlapWait:
			return ErrWait
		case busy || t.Status == task.InProgress:
			out.Reason = ReasonOverlap
		case late && pol.Missed == schedule.MissedSkip:
			out.Reason = ReasonMissed
		case late:
			out.Reason, out.Run = ReasonMissedRun, true
		default:
			out.Reason, out.Run = ReasonDue, true
		}
		if err := Advance(t, due, now, out.Run); err != nil {
			out.Reason, out.Run, out.Err = ReasonInvalid, false, err
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	out.Task = stored
	return out, nil
}

// plannedBefore is the time an interval schedule's next occurrence counts from: its last
// planned occurrence at or before now (due plus whole intervals); now for the other
// types, or when due is not known.
func plannedBefore(t *task.Task, due, now time.Time) time.Time {
	if t.ScheduleType != "interval" || due.IsZero() || due.After(now) {
		return now
	}
	s, err := schedule.Of(t)
	if err != nil {
		return now
	}
	iv := s.Next(due).Sub(due)
	if iv <= 0 {
		return now
	}
	return due.Add(now.Sub(due) / iv * iv)
}

// Advance does the bookkeeping of occurrence due (zero: not known) of t's schedule at
// now: when ran, last_run_at is now and run_count grows by one; next_run_at becomes the
// next occurrence after now (schedule.NextRun); a schedule left without one (a once
// schedule, max_runs reached, schedule_end_at passed) is disabled. An interval counts
// from its planned occurrences, not from the fire: a fire found late does not shift the
// ones after it. A schedule that does not parse is disabled too, and its error returned
// (the bookkeeping is done).
func Advance(t *task.Task, due, now time.Time, ran bool) error {
	if ran {
		t.LastRunAt = now
		t.RunCount++
	}
	next, err := schedule.NextRun(t, plannedBefore(t, due, now))
	t.NextRunAt = next
	if err != nil || next.IsZero() {
		t.ScheduleEnabled = false
	}
	return err
}
