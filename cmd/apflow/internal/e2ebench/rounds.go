package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// round is one measure of a workload (-rounds): its engine floor, then its children.
type round struct {
	floor   float64 // µs a task; 0 when not measured
	results []result
}

// perTask is r's wall time per task, in µs.
func (r result) perTask() float64 { return float64(r.wall.Microseconds()) / float64(r.tasks) }

// ratioTo is per over floor, or 0 when the floor was not measured.
func ratioTo(per, floor float64) float64 {
	if floor <= 0 {
		return 0
	}
	return per / floor
}

// summaryRow is one mode, plugin and build over the rounds: the medians of the rounds it
// completed, and the spread of its ratio to the floor of each round.
type summaryRow struct {
	mode, lang, build  string
	rounds, failed     int
	perTask, ratio     float64 // medians; ratio 0 when no round had a floor
	minRatio, maxRatio float64
	// baseRatio is the median over the rounds of the new build's µs a task over the
	// base build's of the same round (-against); 0 for the base's rows, or without one.
	baseRatio float64
}

// summarize gives a row per mode, plugin and build, in the order of the first round. A failed
// child counts in failed and in no median; a round without a floor in no ratio.
func summarize(rounds []round) []summaryRow {
	type acc struct {
		row                      summaryRow
		pers, ratios, baseRatios []float64
	}
	var accs []*acc
	byKey := map[[3]string]*acc{}
	for _, rd := range rounds {
		for _, r := range rd.results {
			key := [3]string{r.mode, r.lang, r.build}
			a := byKey[key]
			if a == nil {
				a = &acc{row: summaryRow{mode: r.mode, lang: r.lang, build: r.build}}
				byKey[key] = a
				accs = append(accs, a)
			}
			a.row.rounds++
			if r.err != nil {
				a.row.failed++
				continue
			}
			a.pers = append(a.pers, r.perTask())
			if ratio := ratioTo(r.perTask(), rd.floor); ratio > 0 {
				a.ratios = append(a.ratios, ratio)
			}
			if ratio := ratioTo(r.perTask(), basePerTask(rd.results, r)); ratio > 0 {
				a.baseRatios = append(a.baseRatios, ratio)
			}
		}
	}
	rows := make([]summaryRow, len(accs))
	for i, a := range accs {
		rows[i] = a.row
		rows[i].perTask, rows[i].baseRatio = median(a.pers), median(a.baseRatios)
		if len(a.ratios) > 0 {
			rows[i].ratio, rows[i].minRatio, rows[i].maxRatio = median(a.ratios), slices.Min(a.ratios), slices.Max(a.ratios)
		}
	}
	return rows
}

// median is the median of vs (the mean of the middle two for an even count), or 0.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// printSummary writes the medians of a workload's rounds: each ratio to the engine floor
// of its own round; a new build's (-against) over the base's of the same round; a
// workload of hops, the median µs a task over one fsync of the run.
func printSummary(w io.Writer, wl workload, fsync float64, rows []summaryRow) {
	fmt.Fprintf(w, "\n== %s, the medians of its rounds (× engine floor and × base: the medians of each round's ratios)\n", wl.name)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	cols := columns{ab: slices.ContainsFunc(rows, func(r summaryRow) bool { return r.build != "" }), hop: wl.hop}
	cols.row(tw, []string{"mode", "plugin"}, []string{"build"}, []string{"rounds", "failed", "µs/task", "× engine floor", "min–max ×"},
		[]string{"× base"}, []string{"× fsync"}, nil)
	for _, r := range rows {
		spread := "-"
		if r.ratio > 0 {
			spread = fmt.Sprintf("%.2f–%.2f", r.minRatio, r.maxRatio)
		}
		cols.row(tw, []string{r.mode, r.lang}, []string{r.build},
			[]string{fmt.Sprint(r.rounds), fmt.Sprint(r.failed), figure(r.perTask, "%.1f"), figure(r.ratio, "%.2f"), spread},
			[]string{figure(r.baseRatio, "%.2f")},
			[]string{figure(ratioTo(r.perTask, fsync), "%.2f")}, nil)
	}
	tw.Flush()
}
