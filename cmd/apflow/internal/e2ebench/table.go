package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// printTable writes one workload's table: its floors in this run (the engine's of the
// same shape, µs a task, measured right before; fl's fixed ones), then a row per mode
// and plugin (and build, with -against) with the figures' ratios to them. It returns how
// many children failed.
func printTable(w io.Writer, wl workload, floor float64, fl floors, results []result) (failed int) {
	fmt.Fprintf(w, "\n== %s: %s (%d tasks)\nfloors in this run: engine (no-op executor in process) %s µs/task, one fsync %s µs, bare wazero round trip %s µs\n",
		wl.name, wl.about, wl.tasks, figure(floor, "%.1f"), figure(fl.fsync(), "%.0f"), figure(fl.roundTrip(), "%.2f"))
	ab := compared(results)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	cols := columns{ab: ab, hop: wl.hop}
	cols.row(tw, []string{"mode", "plugin"}, []string{"build"}, []string{"tasks/s", "µs/task", "× engine floor"},
		[]string{"× base"}, []string{"× fsync"}, []string{"run µs/task", "peak RSS MiB", "peak anon MiB", "live heap MiB", "heap/task B"})
	var failures []string
	for _, r := range results {
		rss, anon := float64(r.rss)/(1<<20), float64(r.anon)/(1<<20)
		if r.err != nil {
			cols.row(tw, []string{r.mode, r.lang}, []string{r.build}, []string{"FAILED", "", ""}, []string{""}, []string{""},
				[]string{"", figure(rss, "%.0f"), figure(anon, "%.0f"), "", ""})
			failures = append(failures, fmt.Sprintf("  %s failed: %v", strings.Join(slices.DeleteFunc([]string{r.mode, r.lang, r.build}, func(s string) bool { return s == "" }), " "), r.err))
			continue
		}
		per := r.perTask()
		runPer := float64(r.run.Microseconds()) / float64(r.tasks)
		cols.row(tw, []string{r.mode, r.lang}, []string{r.build},
			[]string{fmt.Sprintf("%.0f", float64(r.tasks)/r.wall.Seconds()), fmt.Sprintf("%.1f", per), figure(ratioTo(per, floor), "%.2f")},
			[]string{figure(ratioTo(per, basePerTask(results, r)), "%.2f")},
			[]string{figure(ratioTo(per, fl.fsync()), "%.2f")},
			[]string{figure(runPer, "%.1f"), fmt.Sprintf("%.0f", rss), figure(anon, "%.0f"), fmt.Sprintf("%.0f", float64(r.heap)/(1<<20)),
				fmt.Sprintf("%.0f", float64(max(r.heap-r.base, 0))/float64(r.tasks))})
	}
	tw.Flush()
	if len(failures) > 0 {
		fmt.Fprintln(w, strings.Join(failures, "\n"))
	}
	return len(failures)
}

// columns says which optional columns a table has: the build and its ratio to the base
// build's (-against), the ratio to one fsync (a workload of hops).
type columns struct{ ab, hop bool }

// row writes one row: the leading cells, the build, the figures, the ratio to the base,
// the ratio to one fsync, and the trailing cells; the optional ones only if the table
// has them.
func (c columns) row(tw io.Writer, lead, build, figures, base, fsync, trail []string) {
	cells := slices.Clone(lead)
	if c.ab {
		cells = append(cells, build...)
	}
	cells = append(cells, figures...)
	if c.ab {
		cells = append(cells, base...)
	}
	if c.hop {
		cells = append(cells, fsync...)
	}
	cells = append(cells, trail...)
	fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
}

// compared reports whether results hold two builds (-against).
func compared(results []result) bool {
	return slices.ContainsFunc(results, func(r result) bool { return r.build != "" })
}

// basePerTask is the µs a task of the base build's result of r's mode and plugin, when r
// is the new build's and that result did not fail; else 0.
func basePerTask(results []result, r result) float64 {
	if r.build != "new" {
		return 0
	}
	for _, b := range results {
		if b.build == "base" && b.mode == r.mode && b.lang == r.lang && b.err == nil {
			return b.perTask()
		}
	}
	return 0
}

// figure formats v, or "-" when it was not measured.
func figure(v float64, format string) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
