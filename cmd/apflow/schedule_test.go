package main

import (
	"bytes"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// scheduledWire is the schedule bookkeeping of a task's wire JSON.
type scheduledWire struct {
	Status          string  `json:"status"`
	RunCount        int     `json:"run_count"`
	LastRunAt       *string `json:"last_run_at"`
	NextRunAt       *string `json:"next_run_at"`
	ScheduleEnabled bool    `json:"schedule_enabled"`
	Attempts        int     `json:"attempts"`
}

// TestServeRunsSchedules: apflow serve with a short poll runs a scheduled tree on its
// own, again and again (the children re-run each time), until max_runs disables the
// schedule; the tasks scheduled commands see it through the server and in the data dir.
// It asserts on run_count, last_run_at and attempts in the store, never on timings.
func TestServeRunsSchedules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs apflow serve")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	dataDir, plugins := setup(t)
	srv := startServe(t, bin, dataDir, plugins, "", "--scheduler-poll", "100ms")
	agg := map[string]any{"method": "aggregate_results_executor"}
	srv.mustCall(t, "", "tasks.create", []map[string]any{
		{"id": "sched-root", "name": "scheduled root", "schemas": agg, "dependencies": []string{"sched-child"},
			"schedule_type": "interval", "schedule_expression": "1", "schedule_enabled": true, "max_runs": 3},
		{"id": "sched-child", "name": "scheduled child", "parent_id": "sched-root", "schemas": agg},
	}, nil)
	var root, child scheduledWire
	deadline := time.Now().Add(e2eWait)
	for {
		srv.mustCall(t, "", "tasks.get", map[string]any{"task_id": "sched-root"}, &root)
		// The claim of the last occurrence disables the schedule before its run starts:
		// the run is over when the root, which runs last, completed a third time.
		if (!root.ScheduleEnabled && root.Status == "completed" && root.Attempts == 3) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.mustCall(t, "", "tasks.get", map[string]any{"task_id": "sched-child"}, &child)
	if root.RunCount != 3 || root.LastRunAt == nil || root.NextRunAt != nil || root.ScheduleEnabled || root.Status != "completed" || root.Attempts != 3 {
		t.Fatalf("root after its runs: %+v; want run_count 3, last_run_at set, no next run, disabled, completed 3 times\n%s", root, srv.stderr)
	}
	if child.Attempts != 3 || child.Status != "completed" {
		t.Fatalf("child: %+v; want re-run on each of the 3 runs", child)
	}
	if _, m := srv.do(t, "", "GET", "/metrics", nil, ""); !strings.Contains(string(m), "apflow_scheduler_fired_total 3\n") {
		t.Errorf("/metrics lacks apflow_scheduler_fired_total 3:\n%s", m)
	}
	if !strings.Contains(srv.stderr.String(), "scheduled run started") {
		t.Errorf("no scheduler log line in:\n%s", srv.stderr)
	}

	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("apflow %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out.String()
	}
	list := run("tasks", "scheduled", "list", "--all", "--server", srv.url)
	if !strings.Contains(list, "sched-root") || !strings.Contains(list, "3/3") {
		t.Errorf("tasks scheduled list --server:\n%s", list)
	}
	init := run("tasks", "scheduled", "init", "sched-root", "--server", srv.url, "--from", "2030-01-01T00:00:00Z")
	if !strings.Contains(init, `"run_count": 3`) {
		t.Errorf("tasks scheduled init:\n%s", init)
	}
	if due := run("tasks", "scheduled", "due", "--before", "2100-01-01T00:00:00Z", "--json", "--server", srv.url); strings.TrimSpace(due) != "[]" {
		t.Errorf("tasks scheduled due of a disabled schedule:\n%s", due)
	}
	done := run("tasks", "scheduled", "complete", "sched-root", "--failed", "--error", "external run failed", "--server", srv.url)
	if !strings.Contains(done, `"run_count": 4`) || !strings.Contains(done, `"schedule_enabled": false`) {
		t.Errorf("tasks scheduled complete:\n%s", done)
	}
	if err := exec.Command(bin, "tasks", "scheduled", "complete", "sched-root", "--error", "x", "--server", srv.url).Run(); err == nil {
		t.Error("complete --error without --failed succeeded")
	}
	if code := srv.stop(t, syscall.SIGTERM, e2eWait); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	local := run("tasks", "scheduled", "list", "--all", "--json", "--data-dir", dataDir, "--plugins", plugins)
	if !strings.Contains(local, `"run_count": 4`) {
		t.Errorf("tasks scheduled list in the data dir:\n%s", local)
	}
	cal := run("tasks", "scheduled", "export-ical", "--all", "--data-dir", dataDir, "--plugins", plugins)
	if !strings.HasPrefix(cal, "BEGIN:VCALENDAR\r\n") {
		t.Errorf("export-ical:\n%s", cal)
	}
}
