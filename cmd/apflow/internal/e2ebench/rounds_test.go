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
