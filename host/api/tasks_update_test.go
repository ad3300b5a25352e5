package api

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestUpdateReschedules: changing a schedule through tasks.update checks it (the field
// at fault named) and recomputes next_run_at; an update that sets next_run_at keeps it.
func TestUpdateReschedules(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	e := setup(t, setupOpts{mutate: func(c *Config) { c.Now = func() time.Time { return now } }})
	e.ok(t, "", "tasks.create", []map[string]any{{"id": "s", "name": "s", "schemas": map[string]any{"method": "echo"}}}, nil)
	var got map[string]any
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "s", "schedule_type": "daily", "schedule_expression": "09:00",
		"schedule_timezone": "Asia/Tokyo", "schedule_enabled": true}, &got)
	if got["next_run_at"] != "2026-12-03T00:00:00.000000Z" {
		t.Errorf("next_run_at %v, want 09:00 in Tokyo tomorrow (2026-12-03T00:00:00Z)", got["next_run_at"])
	}
	// An enabled schedule that would never run is refused, naming the field.
	for field, params := range map[string]map[string]any{
		"schedule_expression": {"schedule_type": "once", "schedule_expression": "2026-12-01T09:00:00Z"},
		"schedule_end_at":     {"schedule_end_at": "2026-12-01T00:00:00Z"},
	} {
		params["task_id"] = "s"
		err := e.fails(t, "", "tasks.update", params, int(apferr.InvalidParams))
		if data, _ := err.Data.(map[string]any); data["field"] != field || data["task_id"] != "s" || !strings.Contains(err.Message, "task s: ") {
			t.Errorf("update %v: error %q %v, want the task and the field %s named", params, err.Message, err.Data, field)
		}
	}
	for field, value := range map[string]any{"schedule_expression": "9am", "schedule_timezone": "Mars/Olympus"} {
		err := e.fails(t, "", "tasks.update", map[string]any{"task_id": "s", field: value}, int(apferr.InvalidParams))
		if data, _ := err.Data.(map[string]any); data["field"] != field || data["task_id"] != "s" || !strings.Contains(err.Message, "task s: ") {
			t.Errorf("update of %s: error %q %v, want the task and the field named", field, err.Message, err.Data)
		}
	}
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "s", "schedule_enabled": false}, &got)
	if got["next_run_at"] != nil {
		t.Errorf("disabled schedule: next_run_at %v, want null", got["next_run_at"])
	}
}

// TestUpdateChecksSchedulePolicy: tasks.update refuses a schedule policy in params that
// the scheduler does not know, naming the task and the field.
func TestUpdateChecksSchedulePolicy(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", []map[string]any{{"id": "s", "name": "s", "schemas": map[string]any{"method": "echo"}}}, nil)
	err := e.fails(t, "", "tasks.update", map[string]any{"task_id": "s", "params": map[string]any{"schedule_missed": "catch_up"}}, int(apferr.InvalidParams))
	if data, _ := err.Data.(map[string]any); data["field"] != "params.schedule_missed" || data["task_id"] != "s" {
		t.Errorf("error data %v, want field params.schedule_missed and task_id s", err.Data)
	}
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "s", "params": map[string]any{"schedule_overlap": "wait"}}, nil)
	// A retry policy's problems are all named, with the task.
	err = e.fails(t, "", "tasks.update", map[string]any{"task_id": "s", "params": map[string]any{
		"retry": map[string]any{"max_attempts": 0, "backoff": map[string]any{"jitter": 2}}}}, int(apferr.InvalidParams))
	if data, _ := err.Data.(map[string]any); data["task_id"] != "s" || !strings.Contains(err.Message, "params.retry.max_attempts") ||
		!strings.Contains(err.Message, "params.retry.backoff.jitter") {
		t.Errorf("error %q %v, want the task and both problems named", err.Message, err.Data)
	}
}

// TestUpdateScheduleWhileRunning: a schedule can be changed (here, paused) while its tree
// runs; any other change of a running tree is still refused.
func TestUpdateScheduleWhileRunning(t *testing.T) {
	t.Parallel()
	e := setup(t, privateWebhooks)
	e.ok(t, "", "tasks.create", []map[string]any{
		{"id": "sr", "name": "sr", "schemas": map[string]any{"method": "echo"}, "dependencies": []any{"sr-a"},
			"schedule_type": "interval", "schedule_expression": "3600", "schedule_enabled": true},
		{"id": "sr-a", "name": "sr-a", "parent_id": "sr", "schemas": map[string]any{"method": "sleep"}, "inputs": map[string]any{"ms": 30000}},
	}, nil)
	// With a webhook the call answers at once and the run goes on.
	e.ok(t, "", "tasks.execute", map[string]any{"task_id": "sr", "webhook_config": map[string]any{"url": "http://127.0.0.1:1/hook", "max_retries": 0}}, nil)
	waitFor(t, func() bool { return e.srv.rootRunning(t.Context(), "sr", nil) })
	var got map[string]any
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "sr", "schedule_enabled": false}, &got)
	if got["schedule_enabled"] != false || got["next_run_at"] != nil {
		t.Fatalf("paused schedule: enabled %v, next_run_at %v; want false and null", got["schedule_enabled"], got["next_run_at"])
	}
	e.fails(t, "", "tasks.update", map[string]any{"task_id": "sr", "name": "renamed"}, int(apferr.AlreadyExecuting))
	e.ok(t, "", "tasks.cancel", map[string]any{"task_id": "sr"}, nil)
}

// TestUpdateKeepsInjectionKeys: tasks.update of dependencies keeps the key a dependency
// is injected under (the name it was referred to by), takes a given key, and keys a
// dependency newly referred to by name under that name.
func TestUpdateKeepsInjectionKeys(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	e.ok(t, "", "tasks.create", []map[string]any{
		{"id": "ik", "name": "ik", "schemas": map[string]any{"method": "echo"}, "dependencies": []any{map[string]any{"name": "words"}}},
		{"id": "ik-a", "name": "words", "parent_id": "ik", "schemas": map[string]any{"method": "echo"}},
		{"id": "ik-b", "name": "nums", "parent_id": "ik", "schemas": map[string]any{"method": "echo"}},
	}, nil)
	tests := []struct {
		deps []any
		want []task.Dependency
	}{
		{[]any{map[string]any{"id": "ik-a", "required": false}}, []task.Dependency{{ID: "ik-a", Key: "words"}}},
		{[]any{"ik-a", map[string]any{"name": "nums"}}, []task.Dependency{{ID: "ik-a", Required: true, Key: "words"}, {ID: "ik-b", Required: true, Key: "nums"}}},
		{[]any{map[string]any{"id": "ik-b", "key": "numbers"}}, []task.Dependency{{ID: "ik-b", Required: true, Key: "numbers"}}},
	}
	for i, tt := range tests {
		var got struct {
			Dependencies []task.Dependency `json:"dependencies"`
		}
		e.ok(t, "", "tasks.update", map[string]any{"task_id": "ik", "dependencies": tt.deps}, &got)
		if !slices.Equal(got.Dependencies, tt.want) {
			t.Errorf("update %d: dependencies %+v, want %+v", i, got.Dependencies, tt.want)
		}
	}
}

// TestUpdateLimits: limits given to tasks.update, in params.limits or at the top, become
// the task's limits, as in a submission; a problem in them is refused naming the task and
// the field, every problem in the message, and nothing is written.
func TestUpdateLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		params    map[string]any
		want      task.Limits
		wantField string // an error naming this field, when not empty
		wantAlso  string // another problem the error's message lists
	}{
		{name: "in params", params: map[string]any{"params": map[string]any{"limits": map[string]any{"timeout_ms": 200}, "k": 1}},
			want: task.Limits{TimeoutMS: 200}},
		{name: "at the top", params: map[string]any{"limits": map[string]any{"memory_pages": 64, "max_result_bytes": 1000}},
			want: task.Limits{MemoryPages: 64, MaxResultBytes: 1000}},
		{name: "null clears them", params: map[string]any{"limits": nil}},
		{name: "params without limits keep them", params: map[string]any{"params": map[string]any{"k": 2}},
			want: task.Limits{TimeoutMS: 5000}},
		{name: "unknown limit", params: map[string]any{"params": map[string]any{"limits": map[string]any{"foo": 1}}},
			wantField: "params.limits.foo"},
		{name: "negative", params: map[string]any{"limits": map[string]any{"timeout_ms": -1, "zzz": 1}},
			wantField: "limits.timeout_ms", wantAlso: "limits.zzz: unknown limit"},
		{name: "too much memory", params: map[string]any{"limits": map[string]any{"memory_pages": task.MaxMemoryPages + 1}},
			wantField: "limits.memory_pages"},
		{name: "not an object", params: map[string]any{"params": map[string]any{"limits": "fast"}},
			wantField: "params.limits"},
		{name: "given twice", params: map[string]any{"limits": map[string]any{"timeout_ms": 1}, "params": map[string]any{"limits": map[string]any{"timeout_ms": 2}}},
			wantField: "limits"},
		// A null counts as not given, as in a submission.
		{name: "at the top, params.limits null", params: map[string]any{"limits": map[string]any{"timeout_ms": 123}, "params": map[string]any{"limits": nil, "k": 1}},
			want: task.Limits{TimeoutMS: 123}},
		{name: "in params, the top null", params: map[string]any{"limits": nil, "params": map[string]any{"limits": map[string]any{"timeout_ms": 9}}},
			want: task.Limits{TimeoutMS: 9}},
		{name: "params.limits null clears them", params: map[string]any{"params": map[string]any{"limits": nil}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, setupOpts{})
			e.ok(t, "", "tasks.create", []map[string]any{{"id": "l", "name": "l", "schemas": map[string]any{"method": "echo"},
				"params": map[string]any{"limits": map[string]any{"timeout_ms": 5000}}}}, nil)
			tc.params["task_id"] = "l"
			var got task.Task
			if tc.wantField == "" {
				e.ok(t, "", "tasks.update", tc.params, &got)
			} else {
				err := e.fails(t, "", "tasks.update", tc.params, int(apferr.InvalidParams))
				if data, _ := err.Data.(map[string]any); data["field"] != tc.wantField || data["task_id"] != "l" || !strings.Contains(err.Message, "task l: "+tc.wantField+": ") {
					t.Errorf("error %q %v, want the field %s and the task named", err.Message, err.Data, tc.wantField)
				}
				if !strings.Contains(err.Message, tc.wantAlso) {
					t.Errorf("error %q lacks %q", err.Message, tc.wantAlso)
				}
				tc.want = task.Limits{TimeoutMS: 5000} // unchanged
			}
			e.ok(t, "", "tasks.get", map[string]any{"task_id": "l"}, &got)
			if got.Limits != tc.want || got.Params["limits"] != nil {
				t.Errorf("stored limits %+v, params %v; want %+v and no params.limits", got.Limits, got.Params, tc.want)
			}
		})
	}
}

// txnStore marks the time a Store.Update's function runs: the store's write.
type txnStore struct {
	store.Store
	in atomic.Bool
}

func (s *txnStore) Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	return s.Store.Update(ctx, id, func(t *task.Task) error {
		s.in.Store(true)
		defer s.in.Store(false)
		return fn(t)
	})
}

// txnCatalog counts the lookups made during a store's write.
type txnCatalog struct {
	*testCatalog
	st     *txnStore
	inside atomic.Int32
}

func (c *txnCatalog) Lookup(id string) (executor.Handle, error) {
	if c.st.in.Load() {
		c.inside.Add(1)
	}
	return c.testCatalog.Lookup(id)
}

// TestUpdateLooksUpTheExecutorBeforeTheWrite: tasks.update of schemas or params checks
// the executor it leaves the task before the store's write, not in it (a lookup may
// compile the plugin, and every write of the store would wait for it).
func TestUpdateLooksUpTheExecutorBeforeTheWrite(t *testing.T) {
	t.Parallel()
	st := &txnStore{Store: memstore.New()}
	cat := &txnCatalog{testCatalog: newTestCatalog(), st: st}
	e := setup(t, setupOpts{mutate: func(c *Config) {
		eng, err := engine.New(engine.Config{Store: st, Catalog: cat, Concurrency: 8})
		if err != nil {
			t.Fatal(err)
		}
		c.Store, c.Engine, c.Catalog, c.Prepare = st, eng, cat, SubmitPrepare(cat, st, nil, nil, 0)
	}})
	var a task.Task
	e.ok(t, "", "tasks.create", map[string]any{"name": "a", "schemas": map[string]any{"method": "echo"}}, &a)
	e.ok(t, "", "tasks.update", map[string]any{"task_id": a.ID, "params": map[string]any{"executor_id": "fail"}}, nil)
	e.fails(t, "", "tasks.update", map[string]any{"task_id": a.ID, "params": nil, "schemas": map[string]any{"method": "nope"}}, int(apferr.ExecutorNotFound))
	if n := cat.inside.Load(); n != 0 {
		t.Errorf("%d executor lookups ran inside the store's write", n)
	}
	var got task.Task
	e.ok(t, "", "tasks.get", map[string]any{"task_id": a.ID}, &got)
	if got.Method() != "fail" {
		t.Errorf("method after the updates = %q, want fail (the refused one not written)", got.Method())
	}
}
