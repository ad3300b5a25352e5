// Package ical renders scheduled tasks as an iCalendar document (RFC 5545): one VEVENT
// per task with a next run, for calendar applications to show when tasks run
// (tasks.scheduled.export-ical, apflow tasks scheduled export-ical).
//
// Guarantees:
//   - Lines end with CRLF and are folded at 75 octets, never inside a UTF-8 sequence;
//     TEXT values are escaped (backslash, semicolon, comma, newline) and control
//     characters other than tab dropped, so any task name or expression yields a
//     well-formed document (FuzzFoldEscape).
//   - A task's UID is derived from its id alone: exporting again updates the same
//     event in a calendar that imported it.
//   - Every TZID used is described by a VTIMEZONE built from the Go time zone database,
//     as RFC 5545 asks: its offset changes as yearly RRULEs when they follow weekday
//     rules, else each change in the two years from the first event.
//
// Pitfalls: the recurrence of a cron schedule is translated field by field; where cron
// runs when either day-of-month or day-of-week matches, RRULE requires both, so such an
// event is marked approximate in its DESCRIPTION (and X-APFLOW-APPROXIMATE). Times are
// DTSTART = next_run_at and DTEND 30 minutes later: the calendar shows when runs start,
// not how long they take.
package ical
