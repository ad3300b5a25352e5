package ical

import (
	"strconv"
	"strings"
	"time"

	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/task"
)

// dayNames are RRULE's weekdays, Monday first (schedule's weekly days 1 … 7).
var dayNames = []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}

// Recurrence returns the RRULE value of t's schedule ("" for a once schedule or one that
// does not parse) and, when the rule only approximates the schedule, a sentence saying
// how. The rule ends at schedule_end_at (UNTIL) or, without one, after the runs max_runs
// leaves (COUNT).
func Recurrence(t *task.Task) (rule, approx string) {
	loc, err := schedule.Location(t.ScheduleTimezone)
	if err != nil {
		return "", ""
	}
	s, err := schedule.Parse(t.ScheduleType, t.ScheduleExpression, loc)
	if err != nil {
		return "", ""
	}
	f := schedule.FieldsOf(s)
	var parts []string
	switch f.Kind {
	case "interval":
		parts = interval(f.Every)
	case "daily":
		parts = []string{"FREQ=DAILY"}
	case "weekly":
		days := make([]string, len(f.Days))
		for i, d := range f.Days {
			days[i] = dayNames[d-1]
		}
		parts = []string{"FREQ=WEEKLY", "BYDAY=" + strings.Join(days, ",")}
	case "monthly":
		parts = []string{"FREQ=MONTHLY", "BYMONTHDAY=" + join(f.Days)}
	case "cron":
		parts, approx = cron(f)
	default:
		return "", ""
	}
	switch {
	case !t.ScheduleEndAt.IsZero():
		parts = append(parts, "UNTIL="+utcStamp(t.ScheduleEndAt))
	case t.MaxRuns > 0:
		parts = append(parts, "COUNT="+strconv.Itoa(max(t.MaxRuns-t.RunCount, 1)))
	}
	return strings.Join(parts, ";"), approx
}

// interval is the rule of a period: in the largest unit that divides it.
func interval(d time.Duration) []string {
	sec := int64(d / time.Second)
	for _, u := range []struct {
		freq string
		n    int64
	}{{"DAILY", 86400}, {"HOURLY", 3600}, {"MINUTELY", 60}} {
		if sec%u.n == 0 {
			return freq(u.freq, sec/u.n)
		}
	}
	return freq("SECONDLY", sec)
}

func freq(f string, n int64) []string {
	out := []string{"FREQ=" + f}
	if n != 1 {
		out = append(out, "INTERVAL="+strconv.FormatInt(n, 10))
	}
	return out
}

// cron translates a cron schedule field by field: the frequency is the finest field
// left free, each restricted field a BY part. Exact, except when both day-of-month and
// day-of-week are restricted: cron runs on either, RRULE on days matching both.
func cron(f schedule.Fields) ([]string, string) {
	var parts []string
	switch {
	case f.CronMinutes == nil:
		parts = []string{"FREQ=MINUTELY"}
	case f.CronHours == nil:
		parts = []string{"FREQ=HOURLY"}
	default:
		parts = []string{"FREQ=DAILY"}
	}
	add := func(name string, vs []int) {
		if vs != nil {
			parts = append(parts, name+"="+join(vs))
		}
	}
	add("BYMONTH", f.CronMonths)
	add("BYMONTHDAY", f.CronMonthDays)
	if f.CronWeekDays != nil {
		days := make([]string, len(f.CronWeekDays))
		for i, d := range f.CronWeekDays {
			days[i] = dayNames[(d+6)%7] // cron counts from Sunday = 0
		}
		parts = append(parts, "BYDAY="+strings.Join(days, ","))
	}
	add("BYHOUR", f.CronHours)
	add("BYMINUTE", f.CronMinutes)
	if f.CronMonthDays != nil && f.CronWeekDays != nil {
		return parts, "approximate: cron runs when either the day of month or the day of week matches; this rule needs both"
	}
	return parts, ""
}

func join(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}
