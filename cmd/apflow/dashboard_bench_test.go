package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// BenchmarkDashboardTree10k: the tree page of a completed run of 10,000 echo tasks under
// one root, in headless Chromium, from navigation to the graph drawn with its counts
// (graph-ms), then to the timeline drawn (timeline-ms); the first contentful paint of
// the Runs page (fcp-ms); and, as the floor of graph-ms, the page's tasks.tree call made
// from Go (api-ms). Each op loads the page afresh (about:blank in between).
func BenchmarkDashboardTree10k(b *testing.B) {
	srv, tab := setupDashboard(b, "")
	const n = 10000
	var sb strings.Builder
	sb.WriteString(`[{"id": "big", "name": "big", "schemas": {"method": "aggregate_results_executor"}}`)
	for i := range n {
		fmt.Fprintf(&sb, `, {"id": "c%d", "name": "child %d", "parent_id": "big", "schemas": {"method": "echo"}, "inputs": {"i": %d}}`, i, i, i)
	}
	sb.WriteString("]")
	srv.mustCall(b, "", "tasks.create", json.RawMessage(sb.String()), nil)
	var res struct{ Status string }
	srv.mustCall(b, "", "tasks.execute", map[string]any{"task_id": "big"}, &res)
	if res.Status != "completed" {
		b.Fatalf("the 10,000-task run: %s", res.Status)
	}
	drawn := fmt.Sprintf(`document.querySelector("#tree-canvas svg") !== null && document.querySelector('#tree-counts [data-status="completed"]').textContent.trim().endsWith(" %d")`, n+1)
	var graph, timeline, fcp, api time.Duration
	fields := []string{"id", "name", "parent_id", "task_tree_id", "status", "priority", "progress", "dependencies",
		"schemas", "params", "error", "created_at", "updated_at", "started_at", "completed_at"}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		srv.mustCall(b, "", "tasks.tree", map[string]any{"task_id": "big", "fields": fields}, nil)
		api += time.Since(start)
		browse(b, tab, "blank", chromedp.Navigate("about:blank"))
		start = time.Now()
		browse(b, tab, "the tree page", chromedp.Navigate(srv.url+"/ui/#/tree/big"), waitJS(drawn))
		graph += time.Since(start)
		start = time.Now()
		browse(b, tab, "the timeline", chromedp.Click(chromedp.CSS(`button[data-mode="timeline"]`)),
			waitJS(`document.querySelector("#tree-canvas").textContent.includes("child ")`))
		timeline += time.Since(start)
		browse(b, tab, "the runs page", chromedp.Navigate("about:blank"), chromedp.Navigate(srv.url+"/ui/#/runs"),
			waitJS(`document.querySelector("#runs-table table") !== null`))
		ms := browseRun(b, tab, "first contentful paint", chromedp.Evaluate[float64](
			`(performance.getEntriesByName("first-contentful-paint")[0] || {startTime: -1}).startTime`))
		fcp += time.Duration(ms * float64(time.Millisecond))
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(per(graph), "graph-ms")
	b.ReportMetric(per(timeline), "timeline-ms")
	b.ReportMetric(per(fcp), "fcp-ms")
	b.ReportMetric(per(api), "api-ms")
	screenshot(b, tab, "runs-after-10k")
}
