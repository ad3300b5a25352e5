package api

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// setupSearch stores, with known creation times, roots r1 (echo, "Nightly Build", with
// child r1-a on sleep), r2 (executor_id fail over schemas.method echo, "weekly report")
// and r3 (echo, "nightly cleanup", completed), one day apart at 10:00 UTC from
// 2026-12-01.
func setupSearch(t *testing.T) *env {
	t.Helper()
	e := setup(t, setupOpts{})
	day := func(d int) time.Time { return time.Date(2026, 12, d, 10, 0, 0, 0, time.UTC) }
	mk := func(id, parent, name string, created time.Time, method string) *task.Task {
		tree := id
		if parent != "" {
			tree = parent
		}
		return &task.Task{ID: id, ParentID: parent, TaskTreeID: tree, Name: name, Status: task.Pending,
			Priority: task.DefaultPriority, Inputs: map[string]any{}, Schemas: map[string]any{"method": method},
			CreatedAt: created, UpdatedAt: created, HasChildren: id == "r1"}
	}
	r2 := mk("r2", "", "weekly report", day(2), "echo")
	r2.Params = map[string]any{"executor_id": "fail"}
	r3 := mk("r3", "", "nightly cleanup", day(3), "echo")
	r3.Status = task.Completed
	for _, ts := range [][]*task.Task{
		{mk("r1", "", "Nightly Build", day(1), "echo"), mk("r1-a", "r1", "step", day(1), "sleep")},
		{r2}, {r3},
	} {
		if err := e.srv.cfg.Store.Create(t.Context(), ts); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestTasksListSearch(t *testing.T) {
	t.Parallel()
	e := setupSearch(t)
	for _, c := range []struct {
		name   string
		params map[string]any
		want   []string
	}{
		{"executor from schemas.method", map[string]any{"executor": "echo"}, []string{"r3", "r1"}},
		{"executor from params.executor_id", map[string]any{"executor": "fail"}, []string{"r2"}},
		{"executor of a child", map[string]any{"executor": "sleep", "root_only": false}, []string{"r1-a"}},
		{"executor unknown", map[string]any{"executor": "nope"}, []string{}},
		{"name ignores case", map[string]any{"name": "NIGHTLY"}, []string{"r3", "r1"}},
		{"name is an id", map[string]any{"name": "r2"}, []string{"r2"}},
		{"name with status", map[string]any{"name": "nightly", "status": "pending"}, []string{"r1"}},
		{"created_after inclusive", map[string]any{"created_after": "2026-12-02T10:00:00Z"}, []string{"r3", "r2"}},
		{"created_before a date", map[string]any{"created_before": "2026-12-02"}, []string{"r1"}},
		{"created_after with an offset", map[string]any{"created_after": "2026-12-01T12:00:00+02:00"}, []string{"r3", "r2", "r1"}},
		{"created range", map[string]any{"created_after": "2026-12-01T10:00:01Z", "created_before": "2026-12-03T10:00:00Z"}, []string{"r2"}},
		{"all together", map[string]any{"executor": "echo", "name": "nightly", "created_after": "2026-12-02"}, []string{"r3"}},
		{"paged", map[string]any{"name": "nightly", "limit": 1, "offset": 1}, []string{"r1"}},
	} {
		var got []taskView
		e.ok(t, "", "tasks.list", c.params, &got)
		ids := []string{}
		for _, v := range got {
			ids = append(ids, v.ID)
		}
		if !reflect.DeepEqual(ids, c.want) {
			t.Errorf("%s: tasks.list(%v) = %v, want %v", c.name, c.params, ids, c.want)
		}
	}
}

func TestTasksCountSearch(t *testing.T) {
	t.Parallel()
	e := setupSearch(t)
	for _, c := range []struct {
		name   string
		params map[string]any
		want   map[string]float64
	}{
		{"executor", map[string]any{"executor": "echo"}, map[string]float64{"pending": 1, "completed": 1, "total": 2}},
		{"executor of a child", map[string]any{"executor": "sleep", "root_only": true}, map[string]float64{"total": 0}},
		{"name and time", map[string]any{"name": "nightly", "created_before": "2026-12-02"}, map[string]float64{"pending": 1, "total": 1}},
		{"statuses and executor", map[string]any{"statuses": []string{"completed"}, "executor": "echo"}, map[string]float64{"completed": 1, "total": 1}},
		{"a status twice", map[string]any{"statuses": []string{"completed", "pending", "completed"}, "executor": "echo"}, map[string]float64{"completed": 1, "pending": 1, "total": 2}},
		{"created_after", map[string]any{"created_after": "2026-12-02T00:00:00Z"}, map[string]float64{"pending": 1, "completed": 1, "total": 2}},
		{"one tree", map[string]any{"task_tree_id": "r1"}, map[string]float64{"pending": 2, "total": 2}},
		{"one tree, one executor", map[string]any{"task_tree_id": "r1", "executor": "sleep"}, map[string]float64{"pending": 1, "total": 1}},
		{"another tree", map[string]any{"task_tree_id": "r3"}, map[string]float64{"completed": 1, "total": 1}},
	} {
		var got map[string]any
		e.ok(t, "", "tasks.count", c.params, &got)
		for k, v := range got {
			if n, ok := v.(float64); ok && n != c.want[k] {
				t.Errorf("%s: tasks.count(%v)[%s] = %v, want %v (all: %v)", c.name, c.params, k, n, c.want[k], got)
			}
		}
	}
}

func TestTasksSearchBadParams(t *testing.T) {
	t.Parallel()
	e := setupSearch(t)
	for _, c := range []struct {
		name   string
		params map[string]any
		field  string
	}{
		{"created_after not a time", map[string]any{"created_after": "yesterday"}, "created_after"},
		{"created_before out of range", map[string]any{"created_before": "2026-13-45T00:00:00Z"}, "created_before"},
		{"created_after empty", map[string]any{"created_after": ""}, "created_after"},
		{"name too long", map[string]any{"name": strings.Repeat("x", 201)}, "name"},
		{"executor not a string", map[string]any{"executor": 5}, "executor"},
	} {
		for _, method := range []string{"tasks.list", "tasks.count"} {
			err := e.fails(t, "", method, c.params, -32602)
			if d, _ := err.Data.(map[string]any); d["field"] != c.field {
				t.Errorf("%s: %s error %q data %v, want field %s", c.name, method, err.Message, err.Data, c.field)
			}
		}
	}
}
