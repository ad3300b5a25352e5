// Command metrics is a post-hook (docs/hooks.md, "Examples"): for every completed
// task it emits a task.duration metric — the execution time the host measured
// (task.usage.duration_ms), or completed_at − started_at when usage is absent — as a
// structured log line and, when the operator configures a sink, as an HTTP POST.
//
// Grants it uses (operator config, plugins.metrics):
//
//	"config": {"METRICS_URL": "https://metrics.example.com/v1/points"}   optional sink
//	"http":   ["metrics.example.com"]                                      to reach it
//
// The POST body is {"metric": "task.duration", "value": <ms>, "unit": "ms", "tags":
// {"task_id", "executor", "task_tree_id"}}. A sink that refuses or fails makes the hook
// fail (recorded in hook_errors); the task stays completed. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o metrics.wasm ./examples/hooks/metrics
package main

import (
	"encoding/json"
	"fmt"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/hook"
)

func main() {}

func init() {
	hook.Register(apflow.Hook{
		ID: "metrics", Name: "Task metrics", Version: "1.0.0",
		Description:  "emits task.duration for every completed task (log line, optional HTTP sink)",
		Capabilities: []string{"config", "http"},
		Post:         post,
	})
}

// duration returns the task's execution time in milliseconds.
func duration(t *apflow.Task) (float64, bool) {
	if t.Usage != nil {
		return t.Usage.DurationMS, true
	}
	if t.StartedAt == nil || t.CompletedAt == nil {
		return 0, false
	}
	start, err1 := time.Parse(time.RFC3339Nano, *t.StartedAt)
	end, err2 := time.Parse(time.RFC3339Nano, *t.CompletedAt)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(end.Sub(start).Microseconds()) / 1000, true
}

func post(ctx *apflow.Context, t *apflow.Task, _ map[string]any, _ any) error {
	ms, ok := duration(t)
	if !ok {
		ctx.Log.Warn("task.duration unknown", "task_id", t.ID)
		return nil
	}
	tree := ""
	if t.TaskTreeID != nil {
		tree = *t.TaskTreeID
	}
	ctx.Log.Info("metric", "metric", "task.duration", "value", ms, "unit", "ms",
		"task_id", t.ID, "executor", t.Method(), "task_tree_id", tree)
	url, ok := ctx.Config("METRICS_URL")
	if !ok || url == "" {
		return nil
	}
	body, err := json.Marshal(map[string]any{
		"metric": "task.duration", "value": ms, "unit": "ms",
		"tags": map[string]string{"task_id": t.ID, "executor": t.Method(), "task_tree_id": tree},
	})
	if err != nil {
		return err
	}
	resp, err := ctx.HTTP(apflow.HTTPRequest{Method: "POST", URL: url, Body: string(body),
		Headers: map[string]string{"Content-Type": "application/json"}, TimeoutMS: 1000})
	if err != nil {
		return err
	}
	if resp.Status >= 300 {
		return fmt.Errorf("metrics sink %s answered HTTP %d", url, resp.Status)
	}
	return nil
}
