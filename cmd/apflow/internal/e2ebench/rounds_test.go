package main

import (
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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
				{mode: "run", lang: "wat", build: "new", rounds: 2, perTask: 210, ratio: 2.1, minRatio: 2, maxRatio: 2.2,
					baseRatio: (200.0/300 + 220.0/280) / 2},
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

// parseTables reads the tables printTable and printSummary write (text/tabwriter,
// AlignRight: each column's cells end where its header cell ends): for each table, its
// rows, each a map from the header's cells to the row's. A row with text that does not
// end at a column's end fails the test.
func parseTables(t *testing.T, out string) [][]map[string]string {
	t.Helper()
	var tables [][]map[string]string
	var heads []string
	var ends []int
	for _, line := range strings.Split(out, "\n") {
		r := []rune(strings.TrimRight(line, " "))
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "mode "):
			heads, ends = nil, nil
			for _, m := range regexp.MustCompile(`\S+( \S+)*`).FindAllStringIndex(line, -1) {
				heads = append(heads, line[m[0]:m[1]])
				ends = append(ends, utf8.RuneCountInString(line[:m[1]]))
			}
			tables = append(tables, nil)
			continue
		case len(r) == 0 || strings.Contains(line, "failed:") || strings.HasPrefix(line, "==") || strings.HasPrefix(line, "floors"):
			heads = nil
			continue
		case heads == nil:
			continue
		}
		row, start := map[string]string{}, 0
		for j, h := range heads {
			seg := r[start:min(ends[j], len(r))]
			if cell := strings.TrimSpace(string(seg)); cell != "" {
				if seg[len(seg)-1] == ' ' || len(r) < ends[j] {
					t.Fatalf("cell %q of row %q does not end where column %q does", cell, line, h)
				}
				row[h] = cell
			}
			start = min(ends[j], len(r))
		}
		if start < len(r) {
			t.Fatalf("row %q goes past the last column", line)
		}
		tables[len(tables)-1] = append(tables[len(tables)-1], row)
	}
	return tables
}

// TestTables: every row's cells sit in their columns, with and without two builds
// (-against) and the hop column, failed rows too, in a round's table and in the
// medians'; the ratios are to the floors and to the base of the same round.
func TestTables(t *testing.T) {
	t.Parallel()
	res := func(mode, build string, µs int, err error) result {
		return result{mode: mode, lang: "wat", build: build, tasks: 10, wall: time.Duration(µs*10) * time.Microsecond, rss: 40 << 20, anon: 30 << 20, err: err}
	}
	unsampled := func(r result) result { r.anon = 0; return r } // no RssAnon was read
	fl := floors{"BenchmarkFsync": {"ns/op": 200_000}}
	fail := errors.New("exit status 2")
	tests := []struct {
		name    string
		hop     bool
		results []result
		want    []map[string]string // the round's rows, then the medians'
	}{
		{
			name:    "one build",
			results: []result{res("run", "", 240, nil), unsampled(res("serve", "", 0, fail))},
			want: []map[string]string{
				{"mode": "run", "plugin": "wat", "tasks/s": "4167", "µs/task": "240.0", "× engine floor": "2.40", "run µs/task": "-", "peak RSS MiB": "40", "peak anon MiB": "30", "live heap MiB": "0", "heap/task B": "0"},
				{"mode": "serve", "plugin": "wat", "tasks/s": "FAILED", "peak RSS MiB": "40", "peak anon MiB": "-"},
				{"mode": "run", "plugin": "wat", "rounds": "1", "failed": "0", "µs/task": "240.0", "× engine floor": "2.40", "min–max ×": "2.40–2.40"},
				{"mode": "serve", "plugin": "wat", "rounds": "1", "failed": "1", "µs/task": "-", "× engine floor": "-", "min–max ×": "-"},
			},
		},
		{
			name:    "two builds, hops",
			hop:     true,
			results: []result{res("run", "new", 240, nil), res("run", "base", 300, nil), res("serve", "new", 0, fail), res("serve", "base", 200, nil)},
			want: []map[string]string{
				{"mode": "run", "plugin": "wat", "build": "new", "tasks/s": "4167", "µs/task": "240.0", "× engine floor": "2.40", "× base": "0.80", "× fsync": "1.20", "run µs/task": "-", "peak RSS MiB": "40", "peak anon MiB": "30", "live heap MiB": "0", "heap/task B": "0"},
				{"mode": "run", "plugin": "wat", "build": "base", "tasks/s": "3333", "µs/task": "300.0", "× engine floor": "3.00", "× base": "-", "× fsync": "1.50", "run µs/task": "-", "peak RSS MiB": "40", "peak anon MiB": "30", "live heap MiB": "0", "heap/task B": "0"},
				{"mode": "serve", "plugin": "wat", "build": "new", "tasks/s": "FAILED", "peak RSS MiB": "40", "peak anon MiB": "30"},
				{"mode": "serve", "plugin": "wat", "build": "base", "tasks/s": "5000", "µs/task": "200.0", "× engine floor": "2.00", "× base": "-", "× fsync": "1.00", "run µs/task": "-", "peak RSS MiB": "40", "peak anon MiB": "30", "live heap MiB": "0", "heap/task B": "0"},
				{"mode": "run", "plugin": "wat", "build": "new", "rounds": "1", "failed": "0", "µs/task": "240.0", "× engine floor": "2.40", "min–max ×": "2.40–2.40", "× base": "0.80", "× fsync": "1.20"},
				{"mode": "run", "plugin": "wat", "build": "base", "rounds": "1", "failed": "0", "µs/task": "300.0", "× engine floor": "3.00", "min–max ×": "3.00–3.00", "× base": "-", "× fsync": "1.50"},
				{"mode": "serve", "plugin": "wat", "build": "new", "rounds": "1", "failed": "1", "µs/task": "-", "× engine floor": "-", "min–max ×": "-", "× base": "-", "× fsync": "-"},
				{"mode": "serve", "plugin": "wat", "build": "base", "rounds": "1", "failed": "0", "µs/task": "200.0", "× engine floor": "2.00", "min–max ×": "2.00–2.00", "× base": "-", "× fsync": "1.00"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wl := workload{name: "w", hop: tt.hop}
			var b strings.Builder
			failed := printTable(&b, wl, 100, fl, tt.results)
			printSummary(&b, wl, fl.fsync(), summarize([]round{{floor: 100, results: tt.results}}))
			if failed != 1 {
				t.Errorf("printTable counted %d failures, want 1", failed)
			}
			if !strings.Contains(b.String(), "failed: exit status 2") || !strings.Contains(b.String(), "one fsync 200 µs") {
				t.Errorf("the table lacks the failure or the fsync floor:\n%s", b.String())
			}
			var got []map[string]string
			for _, rows := range parseTables(t, b.String()) {
				got = append(got, rows...)
			}
			if !slices.EqualFunc(got, tt.want, maps.Equal) {
				t.Errorf("rows\n%v\nwant\n%v\n%s", got, tt.want, b.String())
			}
		})
	}
}

// TestBuildOrder: the new build first in the first round, the base in the second.
func TestBuildOrder(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		round, n int
		want     []int
	}{
		{0, 2, []int{0, 1}}, {1, 2, []int{1, 0}}, {2, 2, []int{0, 1}}, {1, 1, []int{0}},
	} {
		if got := buildOrder(c.round, c.n); !slices.Equal(got, c.want) {
			t.Errorf("buildOrder(%d, %d) = %v, want %v", c.round, c.n, got, c.want)
		}
	}
}

// TestByLang: the builds of one echo go together, in order.
func TestByLang(t *testing.T) {
	t.Parallel()
	ps := []plugin{{lang: "wat", build: "new"}, {lang: "wat", build: "base"}, {lang: "go", build: "new"}, {lang: "go", build: "base"}}
	got := byLang(ps)
	if len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 2 || got[0][1].build != "base" || got[1][0].lang != "go" || got[1][1].build != "base" {
		t.Errorf("byLang = %+v", got)
	}
}
