package ical

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones of the tests on any machine
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/task"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// sched returns a scheduled task whose next run is computed at now.
func sched(id, name, kind, expr string, mutate ...func(*task.Task)) *task.Task {
	t := &task.Task{ID: id, Name: name, ScheduleType: kind, ScheduleExpression: expr, ScheduleEnabled: true}
	for _, m := range mutate {
		m(t)
	}
	t.NextRunAt, _ = schedule.NextRun(t, now)
	return t
}

// TestExportGolden pins the calendar of one task of each kind (testdata/calendar.ics;
// go test -update rewrites it).
func TestExportGolden(t *testing.T) {
	tasks := []*task.Task{
		sched("every-90s", "every ninety seconds", "interval", "90"),
		sched("hourly", "hourly sync", "interval", "3600", func(t *task.Task) { t.MaxRuns, t.RunCount = 10, 4 }),
		sched("nightly", "nightly report; sales, EMEA", "daily", "02:30", func(t *task.Task) {
			t.ScheduleTimezone = "Europe/Paris"
			t.ScheduleEndAt = time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
		}),
		sched("weekly", "weekly backup", "weekly", "mon,fri@09:30", func(t *task.Task) { t.ScheduleTimezone = "America/New_York" }),
		sched("monthly", "invoices", "monthly", "1,15@06:00"),
		sched("cron-weekdays", "cron on weekdays", "cron", "*/15 9-17 * * 1-5"),
		sched("cron-both", "cron on the 1st or Mondays", "cron", "0 8 1 * 1"),
		sched("once", "launch \\ party", "once", "2026-12-24T18:00:00Z"),
		sched("off", "disabled", "daily", "09:00", func(t *task.Task) { t.ScheduleEnabled = false }),
		sched("long", strings.Repeat("très long nom ", 12), "daily", "12:00"),
	}
	got, n := Export(tasks, Options{Name: "Ops, nightly; jobs", BaseURL: "https://apflow.example.com/", Now: now})
	if n != 9 {
		t.Errorf("%d events, want 9 (the disabled task has no next run)", n)
	}
	const golden = "testdata/calendar.ics"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("calendar differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	for i, l := range strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n") {
		if len(l) > maxLine || !utf8.ValidString(l) || strings.ContainsAny(l, "\r\n") {
			t.Errorf("line %d is not a folded content line: %q", i+1, l)
		}
	}
}

func TestRecurrence(t *testing.T) {
	tests := []struct {
		t            *task.Task
		rule         string
		approximated bool
	}{
		{sched("a", "a", "interval", "86400"), "FREQ=DAILY", false},
		{sched("a", "a", "interval", "120"), "FREQ=MINUTELY;INTERVAL=2", false},
		{sched("a", "a", "interval", "7"), "FREQ=SECONDLY;INTERVAL=7", false},
		{sched("a", "a", "weekly", "7,1 08:00"), "FREQ=WEEKLY;BYDAY=MO,SU", false},
		{sched("a", "a", "cron", "@daily"), "FREQ=DAILY;BYHOUR=0;BYMINUTE=0", false},
		{sched("a", "a", "cron", "30 6 * * 0"), "FREQ=DAILY;BYDAY=SU;BYHOUR=6;BYMINUTE=30", false},
		{sched("a", "a", "cron", "0 0 13 * 5"), "FREQ=DAILY;BYMONTHDAY=13;BYDAY=FR;BYHOUR=0;BYMINUTE=0", true},
		{sched("a", "a", "once", "2026-12-24T18:00:00Z"), "", false},
	}
	for _, tt := range tests {
		rule, approx := Recurrence(tt.t)
		if rule != tt.rule || (approx != "") != tt.approximated {
			t.Errorf("%s %q: %q (%q), want %q (approximated %v)", tt.t.ScheduleType, tt.t.ScheduleExpression, rule, approx, tt.rule, tt.approximated)
		}
	}
}

// FuzzFoldEscape: any text escapes to a value without raw line breaks or controls that
// unescapes to the text (line breaks as LF, controls dropped), and folding any line
// gives lines of at most 75 octets, valid UTF-8 when the input is, that unfold to it.
func FuzzFoldEscape(f *testing.F) {
	for _, s := range []string{"", "a,b;c\\d", "line\r\nbreak\rcr\nlf", strings.Repeat("é", 80), "tab\there\x00\x1f", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if strings.ContainsFunc(e, func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }) {
			t.Fatalf("Escape(%q) = %q holds a control character", s, e)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		want = strings.ReplaceAll(want, "\r\n", "\n")
		want = strings.ReplaceAll(want, "\r", "\n")
		want = strings.Map(func(r rune) rune {
			if (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f {
				return -1
			}
			return r
		}, want)
		if got := Unescape(e); got != want {
			t.Fatalf("Unescape(Escape(%q)) = %q, want %q", s, got, want)
		}
		line := "DESCRIPTION:" + e
		folded := Fold(line)
		for _, l := range strings.Split(folded, "\r\n") {
			if len(l) > maxLine || !utf8.ValidString(l) {
				t.Fatalf("Fold gave the line %q (%d octets)", l, len(l))
			}
		}
		if Unfold(folded) != line {
			t.Fatalf("Unfold(Fold(%q)) = %q", line, Unfold(folded))
		}
	})
}

// TestVTimezone: a zone whose changes follow weekday rules is described by yearly
// RRULEs, valid however long its events recur; one without changes by its offset alone;
// one whose changes follow no such rule by each change of the next two years.
func TestVTimezone(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		zone  string
		want  []string // in the component, in order
		rules int      // RRULE lines
		from  time.Time
	}{
		{"Europe/Paris", []string{"DTSTART:20270328T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
			"DTSTART:20271031T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"}, 2, time.Time{}},
		{"America/New_York", []string{"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU", "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"}, 2, time.Time{}},
		{"Australia/Sydney", []string{"BEGIN:DAYLIGHT", "TZOFFSETTO:+1100", "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU",
			"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU"}, 2, time.Time{}},
		{"Asia/Tokyo", []string{"DTSTART:19700101T000000", "TZOFFSETTO:+0900", "END:STANDARD\nEND:VTIMEZONE"}, 0, time.Time{}},
		// Morocco leaves its offset for Ramadan, which moves through the year.
		{"Africa/Casablanca", []string{"TZOFFSETTO:+0000", "TZOFFSETTO:+0100"}, 0, time.Time{}},
		// No change in the first year, one in the second (Moscow went to +03 in 2014).
		{"Europe/Moscow", []string{"TZOFFSETTO:+0400", "DTSTART:20141026T020000", "TZOFFSETTO:+0300"}, 0,
			time.Date(2012, 12, 1, 12, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.zone, func(t *testing.T) {
			t.Parallel()
			loc, err := time.LoadLocation(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			at := from
			if !tc.from.IsZero() {
				at = tc.from
			}
			got := strings.Join(vtimezone(loc, at), "\n")
			rest := got
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("no %q (in order) in:\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			if n := strings.Count(got, "RRULE:"); n != tc.rules {
				t.Errorf("%d RRULE lines, want %d:\n%s", n, tc.rules, got)
			}
		})
	}
}
