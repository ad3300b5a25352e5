// Package schedule computes when a scheduled task runs next: the six schedule types of a
// task's schedule_type (once, interval, cron, daily, weekly, monthly), each evaluated in
// the task's IANA time zone.
//
// Expressions:
//
//	once      an ISO 8601 date and time; without an offset, a wall time in the zone
//	interval  whole seconds, counted from the reference time given to Next
//	cron      five fields (minute hour day-of-month month day-of-week) or a descriptor
//	          such as @daily, in the zone
//	daily     HH:MM
//	weekly    days@HH:MM: mon,wed@09:30 (names or 1 = Monday … 7 = Sunday; a space
//	          may replace the @)
//	monthly   days@HH:MM: 1,15@09:30 (days 1 … 31; a month without the day is skipped)
//
// Guarantees: Next never returns a time at or before the one it is given; a wall time a
// daylight-saving change skips runs at the same clock reading shifted by the gap (02:30
// on a spring-forward day at 03:30) for daily, weekly and monthly schedules, and a wall
// time that happens twice runs once, at its first occurrence (cron too).
//
// Pitfalls: a cron time in a skipped hour follows the cron library
// (github.com/robfig/cron/v3): it does not run that day; an hourly cron skips the
// repeated hour of a fall-back night, since its wall times already ran; an interval is
// evaluated in absolute time, so "86400" is not the same as a daily schedule across a
// change.
package schedule
