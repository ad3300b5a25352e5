package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// printTable writes one workload's table: a row per mode and plugin, with the engine
// floor of the same shape (µs a task, 0 when not measured) beside each figure.
func printTable(w io.Writer, wl workload, floor float64, results []result) {
	fmt.Fprintf(w, "\n== %s: %s (%d tasks); engine floor (no-op executor in process): %s µs/task\n",
		wl.name, wl.about, wl.tasks, figure(floor, "%.1f"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tplugin\ttasks/s\tµs/task\t× engine floor\trun µs/task\tpeak RSS MiB\tlive heap MiB\theap/task B\t")
	var failures []string
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%s\tFAILED\t\t\t\t%s\t\t\t\n", r.mode, r.lang, figure(float64(r.rss)/(1<<20), "%.0f"))
			failures = append(failures, fmt.Sprintf("  %s %s failed: %v", r.mode, r.lang, r.err))
			continue
		}
		per, ratio := r.perTask(), ratioTo(r.perTask(), floor)
		runPer := float64(r.run.Microseconds()) / float64(r.tasks)
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%s\t%s\t%.0f\t%.0f\t%.0f\t\n", r.mode, r.lang,
			float64(r.tasks)/r.wall.Seconds(), per, figure(ratio, "%.2f"), figure(runPer, "%.1f"),
			float64(r.rss)/(1<<20), float64(r.heap)/(1<<20), float64(max(r.heap-r.base, 0))/float64(r.tasks))
	}
	tw.Flush()
	if len(failures) > 0 {
		fmt.Fprintln(w, strings.Join(failures, "\n"))
	}
}

// figure formats v, or "-" when it was not measured.
func figure(v float64, format string) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
