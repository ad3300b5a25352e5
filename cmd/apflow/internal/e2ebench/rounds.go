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

// summaryRow is one mode and plugin over the rounds: the medians of the rounds it
// completed, and the spread of its ratio to the floor of each round.
type summaryRow struct {
	mode, lang         string
	rounds, failed     int
	perTask, ratio     float64 // medians; ratio 0 when no round had a floor
	minRatio, maxRatio float64
}

// summarize gives a row per mode and plugin, in the order of the first round. A failed
// child counts in failed and in no median; a round without a floor in no ratio.
func summarize(rounds []round) []summaryRow {
	type acc struct {
		row          summaryRow
		pers, ratios []float64
	}
	var accs []*acc
	byKey := map[[2]string]*acc{}
	for _, rd := range rounds {
		for _, r := range rd.results {
			a := byKey[[2]string{r.mode, r.lang}]
			if a == nil {
				a = &acc{row: summaryRow{mode: r.mode, lang: r.lang}}
				byKey[[2]string{r.mode, r.lang}] = a
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
		}
	}
	rows := make([]summaryRow, len(accs))
	for i, a := range accs {
		rows[i] = a.row
		rows[i].perTask = median(a.pers)
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

// printSummary writes the medians of a workload's rounds; a workload of hops compares
// them with one fsync of the same run too.
func printSummary(w io.Writer, wl workload, fsync float64, rows []summaryRow) {
	fmt.Fprintf(w, "\n== %s, the medians of its rounds (each ratio to the engine floor of its own round)\n", wl.name)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tplugin\trounds\tfailed\tµs/task\t× engine floor\tmin–max ×\t"+hopColumn(wl, "× fsync\t"))
	for _, r := range rows {
		spread := "-"
		if r.ratio > 0 {
			spread = fmt.Sprintf("%.2f–%.2f", r.minRatio, r.maxRatio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", r.mode, r.lang, r.rounds, r.failed,
			figure(r.perTask, "%.1f"), figure(r.ratio, "%.2f"), spread, hopColumn(wl, figure(ratioTo(r.perTask, fsync), "%.2f")+"\t"))
	}
	tw.Flush()
}
