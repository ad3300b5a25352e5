package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSummarize: the medians of the rounds, each ratio to its own round's floor, failed
// children and rounds without a floor left out of the figures they lack.
func TestSummarize(t *testing.T) {
	t.Parallel()
	res := func(mode string, µs int, err error) result {
		return result{mode: mode, lang: "wat", tasks: 10, wall: time.Duration(µs*10) * time.Microsecond, err: err}
	}
	res2 := func(mode, build string, µs int) result {
		r := res(mode, µs, nil)
		r.build = build
		return r
	}
	tests := []struct {
		name   string
		rounds []round
		want   []summaryRow
	}{
		{
			name: "three rounds, the floors moving",
			rounds: []round{
				{floor: 100, results: []result{res("run", 300, nil), res("serve", 200, nil)}},
				{floor: 50, results: []result{res("run", 200, nil), res("serve", 120, nil)}},
				{floor: 200, results: []result{res("run", 500, nil), res("serve", 300, nil)}},
			},
			want: []summaryRow{
				{mode: "run", lang: "wat", rounds: 3, perTask: 300, ratio: 3, minRatio: 2.5, maxRatio: 4},
				{mode: "serve", lang: "wat", rounds: 3, perTask: 200, ratio: 2, minRatio: 1.5, maxRatio: 2.4},
			},
		},
		{
			name: "a failed child, a round without its floor",
			rounds: []round{
				{floor: 100, results: []result{res("run", 300, nil)}},
				{floor: 0, results: []result{res("run", 100, nil)}},
				{floor: 100, results: []result{res("run", 0, errors.New("exit status 1"))}},
				{floor: 100, results: []result{res("run", 200, nil)}},
			},
			want: []summaryRow{{mode: "run", lang: "wat", rounds: 4, failed: 1, perTask: 200, ratio: 2.5, minRatio: 2, maxRatio: 3}},
		},
		{
			name: "two builds",
			rounds: []round{
				{floor: 100, results: []result{res2("run", "new", 200), res2("run", "base", 300)}},
				{floor: 100, results: []result{res2("run", "new", 220), res2("run", "base", 280)}},
			},
			want: []summaryRow{
				{mode: "run", lang: "wat", build: "new", rounds: 2, perTask: 210, ratio: 2.1, minRatio: 2, maxRatio: 2.2},
				{mode: "run", lang: "wat", build: "base", rounds: 2, perTask: 290, ratio: 2.9, minRatio: 2.8, maxRatio: 3},
			},
		},
		{
			name:   "no floor at all",
			rounds: []round{{results: []result{res("run", 300, nil)}}, {results: []result{res("run", 100, nil)}}},
			want:   []summaryRow{{mode: "run", lang: "wat", rounds: 2, perTask: 200}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := summarize(tt.rounds); !slices.Equal(got, tt.want) {
				t.Errorf("summarize = %+v\nwant        %+v", got, tt.want)
			}
		})
	}
}

func TestPrintSummary(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	printSummary(&b, workload{name: "wide-1k"}, 200, []summaryRow{
		{mode: "run", lang: "wat", rounds: 3, perTask: 300, ratio: 3, minRatio: 2.5, maxRatio: 4},
		{mode: "serve", lang: "go", rounds: 3, failed: 3},
	})
	for _, want := range []string{"== wide-1k, the medians of its rounds", "300.0", "3.00", "2.50–4.00"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if got := strings.Fields(lines[len(lines)-1]); !slices.Equal(got, []string{"serve", "go", "3", "3", "-", "-", "-"}) {
		t.Errorf("a row that never completed shows %q, want no figures", got)
	}
}

// TestHopsAgainstFsync: the tables of a workload of hops compare its figures with one
// fsync; the others have no such column.
func TestHopsAgainstFsync(t *testing.T) {
	t.Parallel()
	fl := floors{"BenchmarkFsync": {"ns/op": 200_000}}
	res := []result{{mode: "run", lang: "wat", tasks: 10, wall: 3 * time.Millisecond}}
	rows := []summaryRow{{mode: "run", lang: "wat", rounds: 1, perTask: 300, ratio: 2, minRatio: 2, maxRatio: 2}}
	for _, hop := range []bool{true, false} {
		wl := workload{name: "w", hop: hop}
		var b strings.Builder
		printTable(&b, wl, 150, fl, res)
		printSummary(&b, wl, fl.fsync(), rows)
		out := b.String()
		if got := strings.Count(out, "× fsync"); hop && got != 2 || !hop && got != 0 {
			t.Errorf("hop %v: %d columns × fsync:\n%s", hop, got, out)
		}
		if hop && strings.Count(out, " 1.50") != 2 { // 300 µs a task over 200
			t.Errorf("hop figures against one fsync missing:\n%s", out)
		}
		if !strings.Contains(out, "one fsync 200 µs") {
			t.Errorf("the table lacks the fsync floor:\n%s", out)
		}
	}
}

// TestPrintTableCountsFailures: a failed child is shown and counted, so that the
// command fails.
func TestPrintTableCountsFailures(t *testing.T) {
	t.Parallel()
	res := []result{
		{mode: "run", lang: "wat", tasks: 10, wall: time.Millisecond},
		{mode: "serve", lang: "go", tasks: 10, err: errors.New("exit status 2")},
	}
	var b strings.Builder
	if got := printTable(&b, workload{name: "w"}, 100, floors{}, res); got != 1 {
		t.Errorf("printTable counted %d failures, want 1", got)
	}
	if !strings.Contains(b.String(), "serve go failed: exit status 2") {
		t.Errorf("the failure is not shown:\n%s", b.String())
	}
}

// TestTwoBuilds: with two builds (-against) the tables show each row's build and the new
// build's figures over the base's; with one, neither column.
func TestTwoBuilds(t *testing.T) {
	t.Parallel()
	res := func(build string, µs int) result {
		return result{mode: "run", lang: "wat", build: build, tasks: 10, wall: time.Duration(µs*10) * time.Microsecond}
	}
	tests := []struct {
		name    string
		results []result
		rows    []summaryRow
		want    [][]string // the fields of the table's rows, then of the summary's, headers left out
	}{
		{
			name:    "new and base",
			results: []result{res("new", 240), res("base", 300)},
			rows: []summaryRow{
				{mode: "run", lang: "wat", build: "new", rounds: 1, perTask: 240, ratio: 2.4, minRatio: 2.4, maxRatio: 2.4},
				{mode: "run", lang: "wat", build: "base", rounds: 1, perTask: 300, ratio: 3, minRatio: 3, maxRatio: 3},
			},
			want: [][]string{
				{"run", "wat", "new", "4167", "240.0", "2.40", "0.80", "-", "0", "0", "0"},
				{"run", "wat", "base", "3333", "300.0", "3.00", "-", "-", "0", "0", "0"},
				{"run", "wat", "new", "1", "0", "240.0", "2.40", "2.40–2.40", "0.80"},
				{"run", "wat", "base", "1", "0", "300.0", "3.00", "3.00–3.00", "-"},
			},
		},
		{
			name:    "one build",
			results: []result{res("", 240)},
			rows:    []summaryRow{{mode: "run", lang: "wat", rounds: 1, perTask: 240, ratio: 2.4, minRatio: 2.4, maxRatio: 2.4}},
			want: [][]string{
				{"run", "wat", "4167", "240.0", "2.40", "-", "0", "0", "0"},
				{"run", "wat", "1", "0", "240.0", "2.40", "2.40–2.40"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			printTable(&b, workload{name: "w"}, 100, floors{}, tt.results)
			printSummary(&b, workload{name: "w"}, 0, tt.rows)
			var got [][]string
			for _, line := range strings.Split(b.String(), "\n") {
				if f := strings.Fields(line); len(f) > 0 && f[0] == "run" {
					got = append(got, f)
				}
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("rows %q\nwant %q\n%s", got, tt.want, b.String())
			}
		})
	}
}

// TestByLang: the builds of one echo go together, in order.
func TestByLang(t *testing.T) {
	t.Parallel()
	ps := []plugin{{lang: "wat", build: "new"}, {lang: "wat", build: "base"}, {lang: "go", build: "new"}, {lang: "go", build: "base"}}
	got := byLang(ps)
	if len(got) != 2 || len(got[0]) != 2 || got[0][1].build != "base" || got[1][0].lang != "go" {
		t.Errorf("byLang = %+v", got)
	}
}
