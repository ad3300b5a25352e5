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
	printSummary(&b, workload{name: "wide-1k"}, []summaryRow{
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
