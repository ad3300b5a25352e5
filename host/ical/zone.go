package ical

import (
	"fmt"
	"time"
)

// vtimezone returns a VTIMEZONE describing loc from from on: the observance in force at
// from (as if since 1970), then its offset changes, as STANDARD or DAYLIGHT components.
// A zone whose changes in the year after from each recur on a fixed weekday of a month
// (the last Sunday of March, the second Sunday of March, …) for the following
// ruleYears years gets one component per change with a yearly RRULE, valid however long
// the events recur; a zone without such a rule gets each change of the two years after
// from. Changes are found in the Go zone database, day by day, then to the second.
func vtimezone(loc *time.Location, from time.Time) []string {
	ls := []string{"BEGIN:VTIMEZONE", "TZID:" + loc.String()}
	name, off := from.In(loc).Zone()
	ls = append(ls, observance(from.In(loc).IsDST(), "19700101T000000", off, off, name, "")...)
	first := transitions(loc, from, from.AddDate(1, 0, 0))
	rules := make([]string, len(first))
	yearly := len(first) > 0 // a year without a change may precede one that follows no rule
	for i, c := range first {
		rule, ok := yearlyRule(loc, c)
		if !ok {
			yearly = false
			break
		}
		rules[i] = rule
	}
	changes := first
	if !yearly {
		changes = transitions(loc, from, from.AddDate(2, 0, 0))
	}
	for i, c := range changes {
		rule := ""
		if yearly {
			rule = rules[i]
		}
		ls = append(ls, observance(c.dst, c.local().Format("20060102T150405"), c.from, c.to, c.name, rule)...)
	}
	return append(ls, "END:VTIMEZONE")
}

// ruleYears is how many years after the first a change must recur on its weekday rule
// for vtimezone to describe it by that rule.
const ruleYears = 10

// change is one offset change of a zone.
type change struct {
	at       time.Time // the first instant of the new offset
	from, to int       // the offsets, in seconds east of UTC
	name     string    // the new offset's abbreviation
	dst      bool      // whether the new offset is daylight saving time
}

// local is the local time of the change as the old offset reads it: DTSTART of its
// observance (RFC 5545 §3.6.5).
func (c change) local() time.Time { return c.at.In(time.FixedZone("", c.from)) }

// transitions returns loc's offset changes in (from, to].
func transitions(loc *time.Location, from, to time.Time) []change {
	var out []change
	_, off := from.In(loc).Zone()
	for day := from; day.Before(to); day = day.Add(24 * time.Hour) {
		next := day.Add(24 * time.Hour)
		name, noff := next.In(loc).Zone()
		if noff == off {
			continue
		}
		// The change lies in (day, next]: bisect to the second.
		lo, hi := day, next
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if _, o := mid.In(loc).Zone(); o == off {
				lo = mid
			} else {
				hi = mid
			}
		}
		out = append(out, change{at: hi, from: off, to: noff, name: name, dst: hi.In(loc).IsDST()})
		off = noff
	}
	return out
}

// yearlyRule returns the RRULE of c when loc makes the same change (same offsets, same
// local time) on the same weekday of the same month, counted from the start of the
// month or from its end, in each of the ruleYears years after c's.
func yearlyRule(loc *time.Location, c change) (string, bool) {
	l := c.local()
	n := (l.Day()-1)/7 + 1 // the nth such weekday of the month
	if l.Day()+7 > daysIn(l.Year(), l.Month()) {
		n = -1 // the last one
	}
	for y := l.Year() + 1; y <= l.Year()+ruleYears; y++ {
		day := nthWeekday(y, l.Month(), l.Weekday(), n)
		at := time.Date(y, l.Month(), day, l.Hour(), l.Minute(), l.Second(), 0, time.FixedZone("", c.from))
		if _, before := at.Add(-time.Second).In(loc).Zone(); before != c.from {
			return "", false
		}
		if _, after := at.In(loc).Zone(); after != c.to {
			return "", false
		}
	}
	return fmt.Sprintf("FREQ=YEARLY;BYMONTH=%d;BYDAY=%d%s", l.Month(), n, weekdayCodes[l.Weekday()]), true
}

// weekdayCodes are RFC 5545's weekday names, by time.Weekday.
var weekdayCodes = [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// daysIn returns the number of days of month m of year y.
func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

// nthWeekday returns the day of month m of year y that is its nth weekday wd (n -1:
// the last).
func nthWeekday(y int, m time.Month, wd time.Weekday, n int) int {
	if n < 0 {
		last := daysIn(y, m)
		back := (int(time.Date(y, m, last, 0, 0, 0, 0, time.UTC).Weekday()) - int(wd) + 7) % 7
		return last - back
	}
	ahead := (int(wd) - int(time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()) + 7) % 7
	return 1 + ahead + 7*(n-1)
}

// observance is a STANDARD or DAYLIGHT component, recurring by rule when rule is set.
func observance(dst bool, start string, from, to int, name, rule string) []string {
	kind := "STANDARD"
	if dst {
		kind = "DAYLIGHT"
	}
	ls := []string{"BEGIN:" + kind, "DTSTART:" + start}
	if rule != "" {
		ls = append(ls, "RRULE:"+rule)
	}
	return append(ls, "TZOFFSETFROM:"+offset(from), "TZOFFSETTO:"+offset(to), "TZNAME:"+Escape(name), "END:"+kind)
}

// offset formats a UTC offset in seconds as ±hhmm (±hhmmss when it has seconds).
func offset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	s := fmt.Sprintf("%s%02d%02d", sign, sec/3600, sec/60%60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}
