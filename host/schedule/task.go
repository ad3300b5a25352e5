package schedule

import (
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// Location reads a task's schedule_timezone: an IANA name, "" for UTC.
func Location(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" { // Go's name for the host's zone: each node would read it its own way
		return nil, fmt.Errorf("time zone %q is the server's own zone; name an IANA zone (such as Europe/Paris, America/New_York or UTC)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown IANA time zone %q (such as Europe/Paris, America/New_York or UTC)", name)
	}
	return loc, nil
}

// Of reads a task's schedule: its type and expression in its time zone. The error names
// the field at fault ("schedule_timezone" or "schedule_expression") as its Field.
func Of(t *task.Task) (Schedule, error) {
	loc, err := Location(t.ScheduleTimezone)
	if err != nil {
		return nil, &FieldError{Field: "schedule_timezone", Err: err}
	}
	s, err := Parse(t.ScheduleType, t.ScheduleExpression, loc)
	if err != nil {
		return nil, &FieldError{Field: "schedule_expression", Err: err}
	}
	return s, nil
}

// FieldError is a schedule error and the task field it is about.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// NeverRuns names the field that keeps an enabled schedule from ever running again
// after now, and why: a once time or a schedule_end_at that passed, or an end before any
// occurrence. A schedule whose max_runs are used up is exhausted, not refused: "" for it,
// as for a disabled schedule, one that runs again, or one that cannot be read (Of says
// why).
func NeverRuns(t *task.Task, now time.Time) (field, reason string) {
	if !t.ScheduleEnabled || t.ScheduleType == "" || (t.MaxRuns > 0 && t.RunCount >= t.MaxRuns) {
		return "", ""
	}
	if next, err := NextRun(t, now); err != nil || !next.IsZero() {
		return "", ""
	}
	s, _ := Of(t) // NextRun read it
	switch {
	case !t.ScheduleEndAt.IsZero() && !t.ScheduleEndAt.After(now):
		return "schedule_end_at", "is past: the enabled schedule would never run (disable it, or move the end)"
	case s.Next(now).IsZero() && t.ScheduleType == "once":
		return "schedule_expression", "the once time is past: the enabled schedule would never run (disable it, or move the time)"
	case s.Next(now).IsZero():
		return "schedule_expression", "has no occurrence after now (a date that never comes, such as February 30): the enabled schedule would never run"
	case !t.ScheduleEndAt.IsZero():
		return "schedule_end_at", "comes before the schedule's next occurrence: the enabled schedule would never run"
	case t.ScheduleType == "once":
		return "schedule_start_at", "comes after the once time: the enabled schedule would never run"
	default:
		return "schedule_start_at", "comes after the schedule's last occurrence: the enabled schedule would never run"
	}
}

// NextRun is when an enabled schedule runs next after now: the first run at or after
// schedule_start_at and after now, within schedule_end_at, while run_count is below
// max_runs. It is the zero time for a disabled or exhausted schedule.
func NextRun(t *task.Task, now time.Time) (time.Time, error) {
	if !t.ScheduleEnabled || t.ScheduleType == "" {
		return time.Time{}, nil
	}
	s, err := Of(t)
	if err != nil {
		return time.Time{}, err
	}
	if t.MaxRuns > 0 && t.RunCount >= t.MaxRuns {
		return time.Time{}, nil
	}
	var next time.Time
	_, isInterval := s.(interval)
	switch start := t.ScheduleStartAt; {
	case start.IsZero() || !start.After(now):
		next = s.Next(now)
	case isInterval:
		next = start // an interval's runs count from the first, at the start
	default:
		next = s.Next(start.Add(-time.Nanosecond)) // a run at the start instant counts
	}
	if !t.ScheduleEndAt.IsZero() && next.After(t.ScheduleEndAt) {
		return time.Time{}, nil
	}
	return next, nil
}
