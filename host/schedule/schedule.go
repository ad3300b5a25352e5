package schedule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Kinds are the schedule types a task may have (its schedule_type).
var Kinds = []string{"once", "interval", "cron", "daily", "weekly", "monthly"}

// A Schedule computes when a scheduled task runs next.
type Schedule interface {
	// Next returns the first run time strictly after t, or the zero time when there is
	// none (a once schedule whose instant has passed).
	Next(t time.Time) time.Time
}

// Parse reads a schedule expression of the given kind, in the time zone loc (nil means
// UTC). The errors name what is wrong and what is expected; they do not name the field
// (the caller knows it).
func Parse(kind, expr string, loc *time.Location) (Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	expr = strings.TrimSpace(expr)
	switch kind {
	case "once":
		return parseOnce(expr, loc)
	case "interval":
		n, err := strconv.ParseInt(expr, 10, 64)
		if err != nil || n <= 0 || n > maxIntervalSeconds {
			return nil, fmt.Errorf("an interval is a whole number of seconds from 1 to %d, got %q", maxIntervalSeconds, expr)
		}
		return interval(time.Duration(n) * time.Second), nil
	case "cron":
		s, err := cronParser.Parse(expr)
		if err != nil {
			return nil, fmt.Errorf("a cron expression has five fields (minute hour day-of-month month day-of-week): %v", err)
		}
		spec, ok := s.(*cron.SpecSchedule)
		if !ok {
			return nil, fmt.Errorf("a cron expression has five fields (minute hour day-of-month month day-of-week), got %q", expr)
		}
		spec.Location = loc
		return cronSchedule{spec}, nil
	case "daily", "weekly", "monthly":
		return parseCalendar(kind, expr, loc)
	}
	return nil, fmt.Errorf("unknown schedule type %q: want one of %s", kind, strings.Join(Kinds, ", "))
}

// maxIntervalSeconds bounds an interval (about 100 years), so that adding it to a time
// cannot overflow.
const maxIntervalSeconds = 100 * 366 * 24 * 3600

// cronParser reads standard five-field expressions, with the usual descriptors
// (@hourly, @daily, …). Seconds and time zone prefixes are not accepted: the zone is the
// task's.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

type cronSchedule struct{ spec *cron.SpecSchedule }

// Next is the cron library's next time after t, skipping the second pass of a wall time
// a clock change repeats (the library fires 01:30 twice on a fall-back night): a wall
// time runs once, at its first occurrence, as for the other types.
func (c cronSchedule) Next(t time.Time) time.Time {
	n := c.spec.Next(t)
	for !n.IsZero() && repeatedWallTime(n) {
		n = c.spec.Next(n)
	}
	return n
}

// repeatedWallTime reports whether n's wall time in its location was also shown 30
// minutes or an hour earlier (the shifts of daylight-saving changes): n is then its
// second occurrence.
func repeatedWallTime(n time.Time) bool {
	for _, shift := range []time.Duration{time.Hour, 30 * time.Minute} {
		e := n.Add(-shift).In(n.Location())
		if e.Year() == n.Year() && e.YearDay() == n.YearDay() && e.Hour() == n.Hour() && e.Minute() == n.Minute() {
			return true
		}
	}
	return false
}

type interval time.Duration

func (d interval) Next(t time.Time) time.Time { return t.Add(time.Duration(d)) }

type once time.Time

func (o once) Next(t time.Time) time.Time {
	if at := time.Time(o); at.After(t) {
		return at
	}
	return time.Time{}
}

// onceLayouts are the forms a once expression may take; without an offset it is a wall
// time in the schedule's zone.
var onceLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04"}

func parseOnce(expr string, loc *time.Location) (Schedule, error) {
	for i, layout := range onceLayouts {
		var t time.Time
		var err error
		if i == 0 {
			t, err = time.Parse(layout, expr)
		} else {
			t, err = time.ParseInLocation(layout, expr, loc)
		}
		if err == nil {
			return once(t), nil
		}
	}
	return nil, fmt.Errorf("a once schedule is an ISO 8601 date and time (2026-12-24T18:00:00Z, or a wall time in the task's zone), got %q", expr)
}

// calendar runs at one wall time on some days: every day (daily), some weekdays
// (weekly), some days of the month (monthly).
type calendar struct {
	kind         string
	hour, minute int
	days         []int // weekly: 1 (Monday) … 7 (Sunday); monthly: 1 … 31
	loc          *time.Location
}

func parseCalendar(kind, expr string, loc *time.Location) (Schedule, error) {
	c := calendar{kind: kind, loc: loc}
	clock := expr
	want := map[string]string{"daily": "HH:MM",
		"weekly":  "days@HH:MM (or days HH:MM), days mon … sun or 1 (Monday) … 7 (Sunday), comma-separated",
		"monthly": "days@HH:MM (or days HH:MM), days 1 … 31, comma-separated"}[kind]
	if kind != "daily" {
		sep := "@"
		if !strings.Contains(expr, sep) {
			sep = " "
		}
		days, rest, ok := strings.Cut(expr, sep)
		if !ok {
			return nil, fmt.Errorf("a %s schedule is %s, got %q", kind, want, expr)
		}
		clock = strings.TrimSpace(rest)
		hi := map[string]int{"weekly": 7, "monthly": 31}[kind]
		for _, f := range strings.Split(days, ",") {
			f = strings.TrimSpace(f)
			d, err := strconv.Atoi(f)
			if kind == "weekly" && err != nil {
				d, err = weekday(f)
			}
			if err != nil || d < 1 || d > hi {
				return nil, fmt.Errorf("a %s schedule is %s, got day %q", kind, want, f)
			}
			if !slices.Contains(c.days, d) {
				c.days = append(c.days, d)
			}
		}
		slices.Sort(c.days)
	}
	hh, mm, ok := strings.Cut(clock, ":")
	h, herr := strconv.Atoi(hh)
	m, merr := strconv.Atoi(mm)
	if !ok || herr != nil || merr != nil || h < 0 || h > 23 || m < 0 || m > 59 || len(mm) != 2 {
		return nil, fmt.Errorf("a %s schedule is %s, got %q", kind, want, expr)
	}
	c.hour, c.minute = h, m
	return c, nil
}

// Next walks the days from t's (in the schedule's zone) and returns the first run
// after t. A wall time a daylight-saving change skips that day runs when the clock
// reaches it on the other side of the gap (02:30 on a spring-forward day at 03:30); one
// that happens twice runs at its first occurrence.
func (c calendar) Next(t time.Time) time.Time {
	local := t.In(c.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, c.loc)
	// Monthly days can be 31: a search of four years covers every listed day.
	for i := 0; i < 4*366; i++ {
		d := day.AddDate(0, 0, i)
		if !c.runsOn(d) {
			continue
		}
		if at := wallTime(d.Year(), d.Month(), d.Day(), c.hour, c.minute, c.loc); at.After(t) {
			return at
		}
	}
	return time.Time{}
}

func (c calendar) runsOn(d time.Time) bool {
	switch c.kind {
	case "weekly":
		wd := int(d.Weekday())
		if wd == 0 {
			wd = 7
		}
		return slices.Contains(c.days, wd)
	case "monthly":
		return slices.Contains(c.days, d.Day())
	}
	return true
}

// wallTime is the instant a clock in loc shows h:m on that date: for a wall time that
// does not exist (a spring-forward gap), the instant it would have had before the change
// seen after it (the clock shift applied); for one that exists twice, the first.
func wallTime(y int, mo time.Month, d, h, m int, loc *time.Location) time.Time {
	t := time.Date(y, mo, d, h, m, 0, 0, loc)
	if t.Hour() != h || t.Minute() != m {
		// In a gap: read h:m with the offset in force a day before, the clock's reading
		// had it not moved.
		_, before := t.Add(-24 * time.Hour).Zone()
		return time.Date(y, mo, d, h, m, 0, 0, time.FixedZone("", before)).In(loc)
	}
	// Go's choice in an ambiguous hour is not specified: take the earlier instant that
	// shows the same wall time.
	for _, back := range []time.Duration{time.Hour, 30 * time.Minute} {
		if e := t.Add(-back); e.Hour() == h && e.Minute() == m && e.Day() == d {
			return e
		}
	}
	return t
}

// weekday reads a day name (mon or monday, any case) as 1 (Monday) … 7 (Sunday).
func weekday(name string) (int, error) {
	n := strings.ToLower(name)
	for i, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		if n == d || n == d[:3] {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("unknown day %q", name)
}
