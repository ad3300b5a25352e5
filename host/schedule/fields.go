package schedule

import "time"

// Fields is the shape of a parsed schedule, for translating it into another notation
// (host/ical's RRULE).
type Fields struct {
	Kind string
	// Every is the period of an interval schedule.
	Every time.Duration
	// Hour and Minute are the wall time of a daily, weekly or monthly schedule.
	Hour, Minute int
	// Days are the days of a weekly (1 = Monday … 7 = Sunday) or monthly (1 … 31)
	// schedule, ascending.
	Days []int
	// The sets of a cron schedule's fields, ascending; nil for a field that is "*"
	// (every value). CronWeekDays counts 0 = Sunday … 6 = Saturday.
	CronMinutes, CronHours, CronMonthDays, CronMonths, CronWeekDays []int
}

// FieldsOf returns the shape of s, a schedule Parse returned.
func FieldsOf(s Schedule) Fields {
	switch v := s.(type) {
	case interval:
		return Fields{Kind: "interval", Every: time.Duration(v)}
	case once:
		return Fields{Kind: "once"}
	case calendar:
		return Fields{Kind: v.kind, Hour: v.hour, Minute: v.minute, Days: append([]int(nil), v.days...)}
	case cronSchedule:
		sp := v.spec
		return Fields{Kind: "cron", CronMinutes: bits(sp.Minute, 0, 59), CronHours: bits(sp.Hour, 0, 23),
			CronMonthDays: bits(sp.Dom, 1, 31), CronMonths: bits(sp.Month, 1, 12), CronWeekDays: bits(sp.Dow, 0, 6)}
	}
	return Fields{}
}

// starBit marks a cron field written "*" (github.com/robfig/cron/v3's convention).
const starBit = 1 << 63

// bits returns the values lo … hi set in a cron field, or nil when the field is "*" or
// holds every value.
func bits(field uint64, lo, hi int) []int {
	if field&starBit != 0 {
		return nil
	}
	var out []int
	for v := lo; v <= hi; v++ {
		if field&(1<<uint(v)) != 0 {
			out = append(out, v)
		}
	}
	if len(out) == hi-lo+1 {
		return nil
	}
	return out
}
