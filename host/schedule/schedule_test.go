package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

func TestNext(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, kind, expr string
		loc              *time.Location
		after            string
		want             string // RFC 3339, "" for none
	}{
		{"once ahead", "once", "2026-12-24T18:00:00Z", nil, "2026-12-01T00:00:00Z", "2026-12-24T18:00:00Z"},
		{"once passed", "once", "2026-12-24T18:00:00Z", nil, "2026-12-24T18:00:00Z", ""},
		{"once wall time in zone", "once", "2026-12-24T18:00", ny, "2026-12-01T00:00:00Z", "2026-12-24T23:00:00Z"},
		{"interval", "interval", "3600", nil, "2026-12-01T10:15:00Z", "2026-12-01T11:15:00Z"},
		{"daily later today", "daily", "09:30", nil, "2026-12-01T08:00:00Z", "2026-12-01T09:30:00Z"},
		{"daily at the minute: next day", "daily", "09:30", nil, "2026-12-01T09:30:00Z", "2026-12-02T09:30:00Z"},
		{"daily in a zone", "daily", "09:00", ny, "2026-12-01T15:00:00Z", "2026-12-02T14:00:00Z"},
		{"daily in the spring-forward gap", "daily", "02:30", ny, "2026-03-08T05:00:00Z", "2026-03-08T07:30:00Z"},
		{"daily the day after the gap", "daily", "02:30", ny, "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"},
		{"daily in the repeated hour: first", "daily", "01:30", ny, "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z"},
		{"daily in the repeated hour: once", "daily", "01:30", ny, "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
		{"weekly Mon Wed", "weekly", "1,3 08:00", nil, "2026-12-01T09:00:00Z", "2026-12-02T08:00:00Z"}, // Tue → Wed
		{"weekly Sunday", "weekly", "7 08:00", nil, "2026-12-01T09:00:00Z", "2026-12-06T08:00:00Z"},
		{"weekly by name", "weekly", "mon,Wed@09:30", nil, "2026-12-02T10:00:00Z", "2026-12-07T09:30:00Z"},
		{"monthly with @", "monthly", "1,15@09:30", nil, "2026-12-02T00:00:00Z", "2026-12-15T09:30:00Z"},
		{"monthly 31 skips short months", "monthly", "31 12:00", nil, "2026-04-01T00:00:00Z", "2026-05-31T12:00:00Z"},
		{"monthly two days", "monthly", "15,1 06:00", nil, "2026-12-02T00:00:00Z", "2026-12-15T06:00:00Z"},
		{"monthly 30 skips February", "monthly", "30 00:00", nil, "2027-02-01T00:00:00Z", "2027-03-30T00:00:00Z"},
		{"monthly 29 in a leap February", "monthly", "29 00:00", nil, "2028-02-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"cron", "cron", "*/15 * * * *", nil, "2026-12-01T10:07:00Z", "2026-12-01T10:15:00Z"},
		{"cron in a zone", "cron", "0 9 * * 1-5", ny, "2026-12-04T15:00:00Z", "2026-12-07T14:00:00Z"}, // Fri 10:00 NY → Mon 9:00
		{"cron descriptor", "cron", "@daily", nil, "2026-12-01T10:00:00Z", "2026-12-02T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.kind, tt.expr, tt.loc)
			if err != nil {
				t.Fatalf("Parse(%s, %q): %v", tt.kind, tt.expr, err)
			}
			got := s.Next(utc(tt.after))
			if tt.want == "" {
				if !got.IsZero() {
					t.Fatalf("Next = %s, want none", got.UTC().Format(time.RFC3339))
				}
				return
			}
			if !got.Equal(utc(tt.want)) {
				t.Fatalf("Next(%s) = %s, want %s", tt.after, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct{ kind, expr, wantInError string }{
		{"interval", "0", "whole number of seconds"},
		{"interval", "-5", "whole number of seconds"},
		{"interval", "1h", "whole number of seconds"},
		{"cron", "* * * *", "five fields"},
		{"cron", "0 0 * * * *", "five fields"},
		{"cron", "61 * * * *", "five fields"},
		{"daily", "24:00", "HH:MM"},
		{"daily", "9:5", "HH:MM"},
		{"weekly", "09:00", "days@HH:MM"},
		{"weekly", "funday@09:00", "day \"funday\""},
		{"weekly", "8 09:00", "day \"8\""},
		{"monthly", "0 09:00", "day \"0\""},
		{"monthly", "32 09:00", "day \"32\""},
		{"once", "tomorrow", "ISO 8601"},
		{"hourly", "1", "unknown schedule type"},
	}
	for _, tt := range tests {
		if _, err := Parse(tt.kind, tt.expr, nil); err == nil || !strings.Contains(err.Error(), tt.wantInError) {
			t.Errorf("Parse(%s, %q) = %v, want an error saying %q", tt.kind, tt.expr, err, tt.wantInError)
		}
	}
}

// FuzzParse: no expression panics, and a parsed schedule's next run is after the time
// given, or none.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"once|2026-12-24T18:00:00Z", "interval|60", "cron|*/5 * * * *", "daily|09:00", "weekly|1,7 23:59", "monthly|31 00:00"} {
		k, e, _ := strings.Cut(s, "|")
		f.Add(k, e)
	}
	at := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind, expr string) {
		s, err := Parse(kind, expr, nil)
		if err != nil {
			return
		}
		if next := s.Next(at); !next.IsZero() && !next.After(at) {
			t.Fatalf("Parse(%s, %q).Next(%s) = %s, not after", kind, expr, at, next)
		}
	})
}

func TestNextRun(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	base := func(f func(*task.Task)) *task.Task {
		t := &task.Task{ScheduleEnabled: true, ScheduleType: "daily", ScheduleExpression: "09:00"}
		f(t)
		return t
	}
	tests := []struct {
		name string
		t    *task.Task
		want time.Time
	}{
		{"daily", base(func(*task.Task) {}), time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)},
		{"disabled", base(func(t *task.Task) { t.ScheduleEnabled = false }), time.Time{}},
		{"in a zone", base(func(t *task.Task) { t.ScheduleTimezone = "Asia/Tokyo" }), time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)},
		{"start later", base(func(t *task.Task) { t.ScheduleStartAt = time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC) }), time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC)},
		{"ended", base(func(t *task.Task) { t.ScheduleEndAt = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC) }), time.Time{}},
		{"runs used up", base(func(t *task.Task) { t.MaxRuns, t.RunCount = 3, 3 }), time.Time{}},
		{"runs left", base(func(t *task.Task) { t.MaxRuns, t.RunCount = 3, 2 }), time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)},
		{"interval", base(func(t *task.Task) { t.ScheduleType, t.ScheduleExpression = "interval", "7" }), now.Add(7 * time.Second)},
		{"interval, start later: the first run at the start", base(func(t *task.Task) {
			t.ScheduleType, t.ScheduleExpression = "interval", "7"
			t.ScheduleStartAt = now.Add(30 * time.Second)
		}), now.Add(30 * time.Second)},
	}
	for _, tt := range tests {
		got, err := NextRun(tt.t, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("%s: NextRun = %s, %v; want %s", tt.name, got, err, tt.want)
		}
	}
	var fe *FieldError
	for _, zone := range []string{"Mars/Olympus", "Local"} {
		bad := base(func(t *task.Task) { t.ScheduleTimezone = zone })
		if _, err := NextRun(bad, now); !errors.As(err, &fe) || fe.Field != "schedule_timezone" {
			t.Errorf("zone %q: %v, want a schedule_timezone error", zone, err)
		}
	}
	bad := base(func(t *task.Task) { t.ScheduleExpression = "9am" })
	if _, err := NextRun(bad, now); !errors.As(err, &fe) || fe.Field != "schedule_expression" {
		t.Errorf("bad expression: %v, want a schedule_expression error", err)
	}
}

// TestCronRepeatedWallTimeRunsOnce: on a fall-back night cron's 01:30 runs at the first
// 01:30 only (the library would fire the second one too), and an hourly cron does not run
// the repeated hour again.
func TestCronRepeatedWallTimeRunsOnce(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		expr string
		from time.Time
		want []string
	}{
		{"30 1 * * *", time.Date(2026, 10, 31, 12, 0, 0, 0, ny),
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"0 * * * *", time.Date(2026, 11, 1, 0, 30, 0, 0, ny),
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"}},
	} {
		s, err := Parse("cron", c.expr, ny)
		if err != nil {
			t.Fatal(err)
		}
		at := c.from
		for i, want := range c.want {
			at = s.Next(at)
			if got := at.Format(time.RFC3339); got != want {
				t.Fatalf("%s: run %d at %s, want %s", c.expr, i+1, got, want)
			}
		}
	}
}

// TestNeverRuns: an enabled schedule with no run after now names the field that keeps it
// from running; one that runs, a disabled one and an exhausted one name none.
func TestNeverRuns(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	once := func(at string, f func(*task.Task)) *task.Task {
		t := &task.Task{ScheduleEnabled: true, ScheduleType: "once", ScheduleExpression: at}
		if f != nil {
			f(t)
		}
		return t
	}
	tests := []struct {
		name  string
		t     *task.Task
		field string
		want  string // in the reason
	}{
		{"once later", once("2026-12-03T09:00:00Z", nil), "", ""},
		{"once past", once("2026-12-01T09:00:00Z", nil), "schedule_expression", "once time is past"},
		{"once past, disabled", once("2026-12-01T09:00:00Z", func(t *task.Task) { t.ScheduleEnabled = false }), "", ""},
		{"once past, runs used up", once("2026-12-01T09:00:00Z", func(t *task.Task) { t.MaxRuns, t.RunCount = 1, 1 }), "", ""},
		// A cron date that never comes is not a once time.
		{"cron on February 30", &task.Task{ScheduleEnabled: true, ScheduleType: "cron", ScheduleExpression: "0 0 30 2 *"},
			"schedule_expression", "no occurrence after now"},
		{"start after the once time", once("2026-12-03T09:00:00Z", func(t *task.Task) {
			t.ScheduleStartAt = time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
		}), "schedule_start_at", "once time"},
		{"end past", &task.Task{ScheduleEnabled: true, ScheduleType: "daily", ScheduleExpression: "09:00",
			ScheduleEndAt: now.Add(-time.Hour)}, "schedule_end_at", "is past"},
		{"end before the next occurrence", &task.Task{ScheduleEnabled: true, ScheduleType: "daily", ScheduleExpression: "09:00",
			ScheduleEndAt: now.Add(time.Hour)}, "schedule_end_at", "next occurrence"},
	}
	for _, tt := range tests {
		if field, reason := NeverRuns(tt.t, now); field != tt.field || (field != "" && reason == "") || !strings.Contains(reason, tt.want) {
			t.Errorf("%s: NeverRuns = %q, %q; want the field %q", tt.name, field, reason, tt.field)
		}
	}
}
