package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printTable writes one workload's table: its floors in this run (the engine's of the
// same shape, µs a task, measured right before; fl's fixed ones), then a row per mode
// and plugin with the figures' ratios to them. It returns how many children failed.
func printTable(w io.Writer, wl workload, floor float64, fl floors, results []result) (failed int) {
	fmt.Fprintf(w, "\n== %s: %s (%d tasks)\nfloors in this run: engine (no-op executor in process) %s µs/task, one fsync %s µs, bare wazero round trip %s µs\n",
		wl.name, wl.about, wl.tasks, figure(floor, "%.1f"), figure(fl.fsync(), "%.0f"), figure(fl.roundTrip(), "%.2f"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tplugin\ttasks/s\tµs/task\t× engine floor\t"+hopColumn(wl, "× fsync\t")+"run µs/task\tpeak RSS MiB\tlive heap MiB\theap/task B\t")
	var failures []string
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%s\tFAILED\t\t\t%s\t%s\t\t\t\n", r.mode, r.lang, hopColumn(wl, "\t"), figure(float64(r.rss)/(1<<20), "%.0f"))
			failures = append(failures, fmt.Sprintf("  %s %s failed: %v", r.mode, r.lang, r.err))
			continue
		}
		per, ratio := r.perTask(), ratioTo(r.perTask(), floor)
		runPer := float64(r.run.Microseconds()) / float64(r.tasks)
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%s\t%s%s\t%.0f\t%.0f\t%.0f\t\n", r.mode, r.lang,
			float64(r.tasks)/r.wall.Seconds(), per, figure(ratio, "%.2f"), hopColumn(wl, figure(ratioTo(per, fl.fsync()), "%.2f")+"\t"),
			figure(runPer, "%.1f"), float64(r.rss)/(1<<20), float64(r.heap)/(1<<20), float64(max(r.heap-r.base, 0))/float64(r.tasks))
	}
	tw.Flush()
	if len(failures) > 0 {
		fmt.Fprintln(w, strings.Join(failures, "\n"))
	}
	return len(failures)
}

// hopColumn is cell for a workload of hops (workload.hop), else nothing.
func hopColumn(wl workload, cell string) string {
	if !wl.hop {
		return ""
	}
	return cell
}

// figure formats v, or "-" when it was not measured.
func figure(v float64, format string) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
