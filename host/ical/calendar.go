package ical

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/task"
)

// EventDuration is the length of every event: DTEND is DTSTART plus it.
const EventDuration = 30 * time.Minute

// DefaultCalendarName is the X-WR-CALNAME of a calendar without a name.
const DefaultCalendarName = "APFlow Tasks"

// Options configure Export.
type Options struct {
	// Name is the calendar's name (X-WR-CALNAME); "" means DefaultCalendarName.
	Name string
	// BaseURL, when set, gives each event a URL, the task's page in the dashboard of the
	// server at BaseURL (<BaseURL>/ui/#/task/<id>), and its host name is the domain of
	// the UIDs ("apflow" otherwise).
	BaseURL string
	// Now stamps the events (DTSTAMP).
	Now time.Time
}

// Export renders the tasks that have a next run (next_run_at set) as a VCALENDAR, in
// the order given, and returns it with the number of events.
func Export(tasks []*task.Task, o Options) (string, int) {
	name := o.Name
	if name == "" {
		name = DefaultCalendarName
	}
	domain := "apflow"
	base := strings.TrimRight(o.BaseURL, "/")
	if u, err := url.Parse(base); err == nil && u.Hostname() != "" {
		domain = u.Hostname()
	}
	var events []string
	n := 0
	zones := map[string]*time.Location{}
	first := map[string]time.Time{}
	for _, t := range tasks {
		if t.NextRunAt.IsZero() {
			continue
		}
		loc, err := schedule.Location(t.ScheduleTimezone)
		if err != nil {
			loc = time.UTC
		}
		if loc != time.UTC {
			zones[loc.String()] = loc
			if f, ok := first[loc.String()]; !ok || t.NextRunAt.Before(f) {
				first[loc.String()] = t.NextRunAt
			}
		}
		events = append(events, event(t, loc, o.Now, domain, base)...)
		n++
	}
	lines := []string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//apflow-wasm//apflow//EN", "CALSCALE:GREGORIAN",
		"METHOD:PUBLISH", "X-WR-CALNAME:" + Escape(name)}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	for _, z := range names {
		lines = append(lines, vtimezone(zones[z], first[z])...)
	}
	lines = append(lines, events...)
	lines = append(lines, "END:VCALENDAR")
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(Fold(l))
		b.WriteString("\r\n")
	}
	return b.String(), n
}

// utcStamp is a DATE-TIME in UTC form.
func utcStamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// stamp is a DATE-TIME property: UTC form, or local time with TZID.
func stamp(prop string, t time.Time, loc *time.Location) string {
	if loc == time.UTC {
		return prop + ":" + utcStamp(t)
	}
	return prop + ";TZID=" + loc.String() + ":" + t.In(loc).Format("20060102T150405")
}

// event returns the VEVENT lines of t.
func event(t *task.Task, loc *time.Location, now time.Time, domain, base string) []string {
	rule, approx := Recurrence(t)
	desc := "schedule: " + t.ScheduleType + " " + t.ScheduleExpression
	if t.ScheduleTimezone != "" {
		desc += " (" + t.ScheduleTimezone + ")"
	}
	if approx != "" {
		desc += "\n" + approx
	}
	if t.MaxRuns > 0 {
		desc += "\nruns: " + strconv.Itoa(t.RunCount) + " of " + strconv.Itoa(t.MaxRuns)
	}
	ls := []string{"BEGIN:VEVENT",
		"UID:" + Escape(t.ID) + "@" + domain,
		"DTSTAMP:" + utcStamp(now),
		stamp("DTSTART", t.NextRunAt, loc),
		stamp("DTEND", t.NextRunAt.Add(EventDuration), loc),
		"SUMMARY:" + Escape(t.Name),
		"DESCRIPTION:" + Escape(desc),
	}
	if rule != "" {
		ls = append(ls, "RRULE:"+rule)
	}
	if approx != "" {
		ls = append(ls, "X-APFLOW-APPROXIMATE:TRUE")
	}
	if base != "" {
		ls = append(ls, "URL:"+base+"/ui/#/task/"+url.PathEscape(t.ID))
	}
	return append(ls, "END:VEVENT")
}
