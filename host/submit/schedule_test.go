package submit

import (
	"context"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// TestScheduleFieldsChecked: a schedule expression that does not fit its type, or an
// unknown time zone, is refused naming the task and the field; a valid enabled schedule
// gets its next_run_at at once, in its zone.
func TestScheduleFieldsChecked(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	_, err := Prepare(context.Background(), []byte(`[
		{"name": "bad-cron", "schemas": {"method": "count"}, "schedule_type": "cron", "schedule_expression": "every day", "schedule_enabled": true},
		{"name": "bad-zone", "parent_id": "x", "schemas": {"method": "count"}, "schedule_type": "daily", "schedule_expression": "09:00", "schedule_timezone": "Mars/Olympus"},
		{"name": "bad-day", "schemas": {"method": "count"}, "schedule_type": "weekly", "schedule_expression": "funday@09:00"}
	]`), opts)
	_, ps := problemsOf(t, err)
	expectProblems(t, ps,
		want{code: apferr.InvalidParams, task: "bad-cron", field: "schedule_expression", reason: "five fields"},
		want{code: apferr.InvalidParams, task: "bad-zone", field: "schedule_timezone", reason: "IANA"},
		want{code: apferr.InvalidParams, task: "bad-day", field: "schedule_expression", reason: "funday"})

	tasks, err := Prepare(context.Background(), []byte(`[{"name": "nightly", "schemas": {"method": "count"}, "inputs": {"count": 1},
		"schedule_type": "daily", "schedule_expression": "09:30", "schedule_timezone": "Europe/Paris", "schedule_enabled": true}]`), opts)
	if err != nil {
		t.Fatal(err)
	}
	// The setup's clock: 2026-03-01 12:00 UTC, 13:00 in Paris; next 09:30 Paris is the 2nd.
	if want := time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC); !tasks[0].NextRunAt.Equal(want) || tasks[0].ScheduleTimezone != "Europe/Paris" {
		t.Errorf("next_run_at %s (zone %q), want %s", tasks[0].NextRunAt, tasks[0].ScheduleTimezone, want)
	}
}

// TestSchedulePolicyChecked: the scheduler's policies in params are checked at
// submission, naming the task and the field.
func TestSchedulePolicyChecked(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	_, err := Prepare(context.Background(), []byte(`[
		{"name": "bad-missed", "schemas": {"method": "count"}, "params": {"schedule_missed": "catch_up"}},
		{"name": "bad-overlap", "schemas": {"method": "count"}, "params": {"schedule_overlap": 3}}
	]`), opts)
	_, ps := problemsOf(t, err)
	expectProblems(t, ps,
		want{code: apferr.InvalidParams, task: "bad-missed", field: "params.schedule_missed", reason: "run_once"},
		want{code: apferr.InvalidParams, task: "bad-overlap", field: "params.schedule_overlap", reason: "wait"})
	if _, err := Prepare(context.Background(), []byte(`[{"name": "ok", "schemas": {"method": "count"}, "inputs": {"count": 1},
		"params": {"schedule_missed": "run_once", "schedule_overlap": "wait"}}]`), opts); err != nil {
		t.Fatal(err)
	}
}

// TestScheduleThatNeverRunsRefused: an enabled schedule with no run after now (a once
// time or an end that passed) is refused naming the task and the field; a disabled one,
// kept for later, is taken.
func TestScheduleThatNeverRunsRefused(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t) // the clock: 2026-03-01 12:00 UTC
	_, err := Prepare(context.Background(), []byte(`[
		{"name": "past-once", "schemas": {"method": "count"}, "schedule_type": "once", "schedule_expression": "2026-02-01T09:00:00Z", "schedule_enabled": true},
		{"name": "ended", "parent_id": "x", "schemas": {"method": "count"}, "schedule_type": "daily", "schedule_expression": "09:00", "schedule_enabled": true, "schedule_end_at": "2026-02-01T00:00:00Z"}
	]`), opts)
	_, ps := problemsOf(t, err)
	expectProblems(t, ps,
		want{code: apferr.InvalidParams, task: "past-once", field: "schedule_expression", reason: "once time is past"},
		want{code: apferr.InvalidParams, task: "ended", field: "schedule_end_at", reason: "is past"})
	if _, err := Prepare(context.Background(), []byte(`[{"name": "kept", "schemas": {"method": "count"}, "inputs": {"count": 1},
		"schedule_type": "once", "schedule_expression": "2026-02-01T09:00:00Z", "schedule_enabled": false}]`), opts); err != nil {
		t.Fatalf("a disabled past schedule: %v", err)
	}
}
