package api

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// scheduledTask is a tasks.create object of a scheduled echo task.
func scheduledTask(id, kind, expr string, extra map[string]any) map[string]any {
	t := map[string]any{"id": id, "name": id, "schemas": map[string]any{"method": "echo"},
		"schedule_type": kind, "schedule_expression": expr, "schedule_enabled": true}
	for k, v := range extra {
		t[k] = v
	}
	return t
}

func ids(tasks []map[string]any) []string {
	out := []string{}
	for _, t := range tasks {
		out = append(out, t["id"].(string))
	}
	return out
}

// TestScheduledMethods: the shapes of tasks.scheduled.* on a server with a fixed clock.
func TestScheduledMethods(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	// Submissions arm schedules with the same clock (the wall clock made this test fail
	// once the real date passed the fixed one's next daily run).
	e := setup(t, setupOpts{mutate: func(c *Config) {
		c.Now = func() time.Time { return now }
		c.Prepare = SubmitPrepare(c.Catalog, c.Store, c.Now, nil, 0)
	}})
	for _, task := range []map[string]any{
		scheduledTask("daily", "daily", "09:00", map[string]any{"schedule_timezone": "Europe/Paris"}),
		scheduledTask("minutely", "interval", "60", map[string]any{"max_runs": 2}),
		scheduledTask("off", "daily", "10:00", map[string]any{"schedule_enabled": false}),
	} {
		e.ok(t, "", "tasks.create", []map[string]any{task}, nil)
	}
	e.ok(t, "", "tasks.create", []map[string]any{{"id": "plain", "name": "plain", "schemas": map[string]any{"method": "echo"}}}, nil)

	var list []map[string]any
	e.ok(t, "", "tasks.scheduled.list", map[string]any{}, &list)
	if got := strings.Join(ids(list), ","); got != "minutely,daily" {
		t.Errorf("tasks.scheduled.list = %s, want minutely,daily (enabled, next run first)", got)
	}
	e.ok(t, "", "tasks.scheduled.list", map[string]any{"enabled_only": false, "schedule_type": "daily"}, &list)
	if got := strings.Join(ids(list), ","); got != "daily,off" {
		t.Errorf("tasks.scheduled.list of daily = %s, want daily,off (no next run last)", got)
	}

	var due []map[string]any
	e.ok(t, "", "tasks.scheduled.due", map[string]any{}, &due)
	if len(due) != 0 {
		t.Errorf("due now = %v, want none", ids(due))
	}
	e.ok(t, "", "tasks.scheduled.due", map[string]any{"before": "2026-12-03T12:00:00Z"}, &due)
	if got := strings.Join(ids(due), ","); got != "minutely,daily" {
		t.Errorf("due tomorrow = %s, want minutely,daily", got)
	}
	e.fails(t, "", "tasks.scheduled.due", map[string]any{"before": "tomorrow"}, int(apferr.InvalidParams))

	var got map[string]any
	e.ok(t, "", "tasks.scheduled.init", map[string]any{"task_id": "daily", "from_time": "2026-12-10T12:00:00Z"}, &got)
	if got["next_run_at"] != "2026-12-11T08:00:00.000000Z" {
		t.Errorf("init: next_run_at %v, want 09:00 Paris on the 11th", got["next_run_at"])
	}
	err := e.fails(t, "", "tasks.scheduled.init", map[string]any{"task_id": "plain"}, int(apferr.InvalidParams))
	if d, _ := err.Data.(map[string]any); d["field"] != "schedule_type" || d["task_id"] != "plain" {
		t.Errorf("init of an unscheduled task: %v, want field schedule_type and task plain", err.Data)
	}

	e.ok(t, "", "tasks.scheduled.complete", map[string]any{"task_id": "minutely"}, &got)
	if got["run_count"] != 1.0 || got["last_run_at"] != "2026-12-02T12:00:00.000000Z" || got["next_run_at"] != "2026-12-02T12:01:00.000000Z" {
		t.Errorf("complete: %v %v %v, want run_count 1, last_run_at now, next a minute later", got["run_count"], got["last_run_at"], got["next_run_at"])
	}
	e.fails(t, "", "tasks.scheduled.complete", map[string]any{"task_id": "minutely", "error": "boom"}, int(apferr.InvalidParams))
	e.ok(t, "", "tasks.scheduled.complete", map[string]any{"task_id": "minutely", "success": false, "error": "boom"}, &got)
	if got["run_count"] != 2.0 || got["schedule_enabled"] != false || got["next_run_at"] != nil {
		t.Errorf("complete at max_runs: %v %v %v, want run_count 2, disabled, no next run", got["run_count"], got["schedule_enabled"], got["next_run_at"])
	}
	e.ok(t, "", "tasks.scheduled.complete", map[string]any{"task_id": "daily", "calculate_next_run": false}, &got)
	if got["next_run_at"] != "2026-12-11T08:00:00.000000Z" || got["run_count"] != 1.0 {
		t.Errorf("complete without recomputing: next %v, run_count %v; want next kept", got["next_run_at"], got["run_count"])
	}

	var cal struct {
		ICal  string `json:"ical_content"`
		Count int    `json:"task_count"`
	}
	e.ok(t, "", "tasks.scheduled.export-ical", map[string]any{"base_url": "https://apflow.example.com"}, &cal)
	if cal.Count != 1 || !strings.HasPrefix(cal.ICal, "BEGIN:VCALENDAR\r\n") || !strings.Contains(cal.ICal, "X-WR-CALNAME:APFlow Tasks\r\n") ||
		!strings.Contains(cal.ICal, "UID:daily@apflow.example.com\r\n") || !strings.Contains(cal.ICal, "DTSTART;TZID=Europe/Paris:20261211T090000\r\n") {
		t.Errorf("export-ical: %d events\n%s", cal.Count, cal.ICal)
	}
	e.fails(t, "", "tasks.scheduled.export-ical", map[string]any{"base_url": "ftp://x"}, int(apferr.InvalidParams))

	var trig map[string]any
	e.ok(t, "", "tasks.webhook.trigger", map[string]any{"task_id": "plain", "async": false}, &trig)
	if trig["success"] != true || trig["status"] != "completed" || trig["task_id"] != "plain" {
		t.Errorf("tasks.webhook.trigger = %v, want the completed run", trig)
	}
	e.fails(t, "", "tasks.webhook.trigger", map[string]any{"task_id": "ghost"}, int(apferr.TaskNotFound))
}

// TestScheduledMethodsOwnerScoped: with authentication, a user lists, finds due and
// completes only its own scheduled tasks.
func TestScheduledMethodsOwnerScoped(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	alice, bob := e.token(t, "alice"), e.token(t, "bob")
	e.ok(t, alice, "tasks.create", []map[string]any{scheduledTask("a", "interval", "60", nil)}, nil)
	e.ok(t, bob, "tasks.create", []map[string]any{scheduledTask("b", "interval", "60", nil)}, nil)
	var list []map[string]any
	e.ok(t, bob, "tasks.scheduled.list", map[string]any{"user_id": "alice"}, &list)
	if len(list) != 1 || !strings.HasSuffix(list[0]["id"].(string), "/b") {
		t.Errorf("bob lists %v, want only his task", ids(list))
	}
	e.ok(t, bob, "tasks.scheduled.due", map[string]any{"before": "2100-01-01T00:00:00Z"}, &list)
	if len(list) != 1 || !strings.HasSuffix(list[0]["id"].(string), "/b") {
		t.Errorf("bob's due %v, want only his task", ids(list))
	}
	e.fails(t, bob, "tasks.scheduled.complete", map[string]any{"task_id": "alice/a"}, int(apferr.TaskNotFound))
}

// TestScheduleChangedWakes: creating a tree with an armed schedule, updating a schedule
// and tasks.scheduled.init call Config.ScheduleChanged; a plain tree does not.
func TestScheduleChangedWakes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	e := setup(t, setupOpts{mutate: func(c *Config) {
		c.ScheduleChanged = func() { mu.Lock(); calls++; mu.Unlock() }
	}})
	count := func() int { mu.Lock(); defer mu.Unlock(); return calls }
	e.ok(t, "", "tasks.create", []map[string]any{{"id": "plain", "name": "plain", "schemas": map[string]any{"method": "echo"}}}, nil)
	if count() != 0 {
		t.Fatalf("%d calls after a plain tree, want 0", count())
	}
	e.ok(t, "", "tasks.create", []map[string]any{scheduledTask("s", "interval", "60", nil)}, nil)
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "s", "schedule_expression": "30"}, nil)
	e.ok(t, "", "tasks.scheduled.init", map[string]any{"task_id": "s"}, nil)
	if count() != 3 {
		t.Fatalf("%d calls, want 3 (create, update, init)", count())
	}
}
