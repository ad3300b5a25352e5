package ical

import (
	"fmt"
	"time"
)

// vtimezone returns a VTIMEZONE describing loc from from on: the observance in force at
// from (as if since 1970), then each offset change in the following two years, as
// STANDARD or DAYLIGHT components. Changes are found by searching the Go zone database
// day by day, then to the second.
func vtimezone(loc *time.Location, from time.Time) []string {
	ls := []string{"BEGIN:VTIMEZONE", "TZID:" + loc.String()}
	// The observance in force at from, then every change after it.
	name, off := from.In(loc).Zone()
	ls = append(ls, observance(from.In(loc).IsDST(), "19700101T000000", off, off, name)...)
	start := from
	for day := start; day.Before(from.AddDate(2, 0, 0)); day = day.Add(24 * time.Hour) {
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
		// DTSTART of a change is the local time before it (RFC 5545 §3.6.5).
		local := hi.In(time.FixedZone("", off)).Format("20060102T150405")
		ls = append(ls, observance(hi.In(loc).IsDST(), local, off, noff, name)...)
		off = noff
	}
	return append(ls, "END:VTIMEZONE")
}

// observance is a STANDARD or DAYLIGHT component.
func observance(dst bool, start string, from, to int, name string) []string {
	kind := "STANDARD"
	if dst {
		kind = "DAYLIGHT"
	}
	return []string{"BEGIN:" + kind, "DTSTART:" + start, "TZOFFSETFROM:" + offset(from), "TZOFFSETTO:" + offset(to),
		"TZNAME:" + Escape(name), "END:" + kind}
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
