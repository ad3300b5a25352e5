package submit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
)

// agg and echo are task fragments naming executors of the test catalog.
const (
	agg  = `"schemas": {"method": "aggregate_results_executor"}`
	echo = `"schemas": {"method": "echo"}`
)

func TestPrepareRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		code  apferr.Code
		wants []want
	}{
		{"empty array", `[]`, apferr.InvalidParams,
			[]want{{field: "tasks", reason: "no tasks"}}},
		{"empty wrapped", `{"tasks": []}`, apferr.InvalidParams,
			[]want{{field: "tasks", reason: "no tasks"}}},
		{"two roots", `[{"name": "a", ` + agg + `}, {"name": "b", ` + echo + `}]`, apferr.TreeValidation,
			[]want{{task: "a", field: "parent_id", reason: "multiple root tasks found (a, b)"}, {task: "b", field: "parent_id"}}},
		{"no root", `[{"name": "a", "parent_id": "b", ` + agg + `}, {"name": "b", "parent_id": "a", ` + echo + `}]`, apferr.TreeValidation,
			[]want{{field: "parent_id", reason: "no root task found"}, {code: apferr.TreeValidation, task: "a", reason: "parent cycle"}}},
		{"unknown parent", `[{"name": "r", ` + agg + `}, {"name": "c", "parent_id": "nope", ` + echo + `}]`, apferr.InvalidParent,
			[]want{{task: "c", field: "parent_id", reason: `"nope" is not the id or name`}}},
		{"unknown dependency", `[{"name": "r", "dependencies": ["ghost"], ` + agg + `}]`, apferr.InvalidDependency,
			[]want{{task: "r", field: "dependencies[0]", reason: `"ghost"`}}},
		{"unknown dependency by name", `[{"name": "r", "id": "x1", "dependencies": [{"name": "x1"}], ` + agg + `}]`, apferr.InvalidDependency,
			[]want{{task: "r", field: "dependencies[0]", reason: "not the name"}}},
		{"self dependency", `[{"name": "r", "dependencies": [{"id": "r"}], ` + agg + `}]`, apferr.InvalidDependency,
			[]want{{task: "r", field: "dependencies[0]", reason: "cannot depend on itself"}}},
		{"dependency cycle", `[{"name": "r", "dependencies": ["a"], ` + agg + `},
			{"name": "a", "parent_id": "r", "dependencies": ["b"], ` + echo + `},
			{"name": "b", "parent_id": "r", "dependencies": ["c"], ` + echo + `},
			{"name": "c", "parent_id": "r", "dependencies": ["a"], ` + echo + `}]`, apferr.CircularDependency,
			[]want{{task: "a", field: "dependencies", reason: "circular dependency", cycle: "a -> b -> c -> a"}}},
		{"parent cycle", `[{"name": "r", ` + agg + `},
			{"name": "a", "parent_id": "c", ` + echo + `},
			{"name": "b", "parent_id": "a", ` + echo + `},
			{"name": "c", "parent_id": "b", ` + echo + `}]`, apferr.TreeValidation,
			[]want{{task: "a", field: "parent_id", reason: "parent cycle", cycle: "a -> c -> b -> a"}}},
		{"self parent", `[{"name": "r", ` + agg + `}, {"name": "a", "parent_id": "a", ` + echo + `}]`, apferr.TreeValidation,
			[]want{{task: "a", field: "parent_id", reason: "parent cycle", cycle: "a -> a"}}},
		{"duplicate names", `[{"name": "r", ` + agg + `}, {"name": "x", "parent_id": "r", ` + echo + `}, {"name": "x", "parent_id": "r", ` + echo + `}]`, apferr.InvalidParams,
			[]want{{task: "x", field: "name", reason: `duplicate name "x"`}}},
		{"duplicate ids", `[{"id": "r1", "name": "r", ` + agg + `}, {"id": "k", "name": "x", "parent_id": "r1", ` + echo + `}, {"id": "k", "name": "y", "parent_id": "r1", ` + echo + `}]`, apferr.InvalidParams,
			[]want{{task: "y", field: "id", reason: `duplicate id "k"`}}},
		{"priority 7", `[{"name": "r", "priority": 7, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "priority", reason: "out of range"}}},
		{"priority negative", `[{"name": "r", "priority": -1, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "priority"}}},
		{"id already exists", `[{"id": "taken", "name": "r", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "id", reason: "already exists"}}},
		{"tree id already exists", `[{"name": "r", "task_tree_id": "old-tree", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "task_tree_id", reason: "already exists"}}},
		{"unknown executor", `[{"name": "r", "schemas": {"method": "nope"}}]`, apferr.ExecutorNotFound,
			[]want{{task: "r", field: "schemas.method", reason: `"nope" is not registered`}}},
		{"unknown executor via params", `[{"name": "r", "params": {"executor_id": "nope"}, ` + echo + `}]`, apferr.ExecutorNotFound,
			[]want{{task: "r", field: "params.executor_id"}}},
		{"no method", `[{"name": "r"}]`, apferr.ExecutorNotFound,
			[]want{{task: "r", field: "schemas.method", reason: "aggregate_results_executor"}}},
		{"priority as string", `[{"name": "r", "priority": "high", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "priority", reason: "must be an integer"}}},
		{"priority fraction", `[{"name": "r", "priority": 1.5, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "priority", reason: "must be an integer"}}},
		{"dependencies not array", `[{"name": "r", "dependencies": "a", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "dependencies", reason: "must be an array"}}},
		{"dependency item number", `[{"name": "r", "dependencies": [3], ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "dependencies[0]", reason: "not a dependency item"}}},
		{"dependency object without ref", `[{"name": "r", "dependencies": [{"required": true}], ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "dependencies[0]", reason: `needs "id" or "name"`}}},
		{"dependency required not bool", `[{"name": "r", "dependencies": [{"id": "x", "required": "yes"}], ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "dependencies[0].required"}}},
		{"dependency member misspelt", `[{"name": "r", "dependencies": [{"id": "x", "requried": false}], ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "dependencies[0].requried", reason: "unknown member of a dependency"}}},
		{"inputs not object", `[{"name": "r", "inputs": [1, 2], ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "inputs", reason: "must be an object"}}},
		{"params not object", `[{"name": "r", "params": 1, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "params"}}},
		{"schemas not object", `[{"name": "r", "schemas": "echo"}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "schemas"}}},
		{"method not string", `[{"name": "r", "schemas": {"method": 5}}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "schemas.method"}}},
		{"name missing", `[{"id": "x", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{field: "name", reason: "needs a name"}}},
		{"name null", `[{"name": null, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{field: "name", reason: "needs a name"}}},
		{"name empty", `[{"name": "", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{field: "name", reason: "must not be empty"}}},
		{"name too long", `[{"name": "` + strings.Repeat("é", 256) + `", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{field: "name", reason: "longer than 255"}}},
		{"name not string", `[{"name": 12, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{field: "name", reason: "must be a string"}}},
		{"task not object", `[{"name": "r", ` + agg + `}, "x"]`, apferr.InvalidParams,
			[]want{{reason: "must be a JSON object"}}},
		{"status completed", `[{"name": "r", "status": "completed", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "status", reason: "starts pending"}}},
		{"limits unknown key", `[{"name": "r", "params": {"limits": {"timeout": 5}}, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "params.limits.timeout", reason: "unknown limit"}}},
		{"limits negative", `[{"name": "r", "params": {"limits": {"timeout_ms": -5}}, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "params.limits.timeout_ms"}}},
		{"limits too many pages", `[{"name": "r", "params": {"limits": {"memory_pages": 70000}}, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "params.limits.memory_pages"}}},
		{"limits twice", `[{"name": "r", "limits": {}, "params": {"limits": {"timeout_ms": 5}}, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "limits", reason: "twice"}}},
		{"limits, every problem", `[{"name": "r", "params": {"limits": {"timeout_ms": -5, "zz": 1}}, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "params.limits.timeout_ms"}, {task: "r", field: "params.limits.zz", reason: "unknown limit"}}},
		{"retry, every problem", `[{"name": "r", "params": {"retry": {"max_attempts": 0, "backoff": {"jitter": 2}}}, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "params.retry.backoff.jitter"}, {task: "r", field: "params.retry.max_attempts"}}},
		{"schedule type", `[{"name": "r", "schedule_type": "hourly", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "schedule_type"}}},
		{"schedule enabled without expression", `[{"name": "r", "schedule_enabled": true, "schedule_type": "cron", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "schedule_enabled"}}},
		{"schedule bad time", `[{"name": "r", "schedule_start_at": "tomorrow", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "schedule_start_at"}}},
		{"schedule end before start", `[{"name": "r", "schedule_start_at": "2026-02-01T00:00:00Z", "schedule_end_at": "2026-01-01T00:00:00Z", ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "schedule_end_at"}}},
		{"max_runs negative", `[{"name": "r", "max_runs": -1, ` + agg + `}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "max_runs"}}},
		{"user ids differ", `[{"name": "r", "user_id": "u1", ` + agg + `}, {"name": "c", "parent_id": "r", "user_id": "u2", ` + echo + `}]`, apferr.InvalidParams,
			[]want{{task: "c", field: "user_id", reason: "share one user_id"}}},
		{"schema-invalid inputs", `[{"name": "r", "schemas": {"method": "count"}, "inputs": {"count": "three"}}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "inputs.count", reason: "expected integer"}}},
		{"schema missing required", `[{"name": "r", "schemas": {"method": "count"}, "inputs": {}}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "inputs", reason: "missing properties"}}},
		{"schema below minimum", `[{"name": "r", "schemas": {"method": "count"}, "inputs": {"count": -2}}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "inputs.count", reason: ">= 0"}}},
		{"task input_schema invalid schema", `[{"name": "r", "schemas": {"method": "echo", "input_schema": {"type": 12}}}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "schemas.input_schema", reason: "not a valid JSON Schema"}}},
		{"task input_schema external ref", `[{"name": "r", "schemas": {"method": "echo", "input_schema": {"$ref": "file:///etc/passwd"}}}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "schemas.input_schema", reason: "may not reference"}}},
		{"task input_schema violated", `[{"name": "r", "schemas": {"method": "echo", "input_schema": {"properties": {"n": {"maximum": 3}}}}, "inputs": {"n": 4}}]`, apferr.InvalidParams,
			[]want{{task: "r", field: "inputs.n", reason: "schemas.input_schema"}}},
		{"dependent still checked for types", `[{"name": "r", ` + agg + `, "dependencies": ["c"]},
			{"name": "c", "parent_id": "r", "schemas": {"method": "count"}, "inputs": {"count": 1}},
			{"name": "d", "parent_id": "r", "schemas": {"method": "count"}, "inputs": {"label": 5}, "dependencies": ["c"]}]`, apferr.InvalidParams,
			[]want{{task: "d", field: "inputs.label", reason: "expected string"}}},
		{"top-level scalar", `42`, apferr.InvalidParams, []want{{reason: "JSON array of task objects"}}},
		{"wrapped tasks not array", `{"tasks": {"name": "x"}}`, apferr.InvalidParams, []want{{field: "tasks"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts, _ := setup(t)
			opts.Exists = func(_ context.Context, id string) (bool, error) { return id == "taken", nil }
			opts.TreeExists = func(_ context.Context, id string) (bool, error) { return id == "old-tree", nil }
			tasks, err := Prepare(context.Background(), []byte(tc.input), opts)
			if tasks != nil {
				t.Fatalf("got %d tasks, want none", len(tasks))
			}
			ae, ps := problemsOf(t, err)
			if ae.Code != tc.code {
				t.Errorf("code %d (%s), want %d (%s); message:\n%s", ae.Code, ae.Code, tc.code, tc.code, ae.Message)
			}
			expectProblems(t, ps, tc.wants...)
			for _, p := range ps {
				if p.Reason == "" {
					t.Errorf("problem without reason: %+v", p)
				}
			}
		})
	}
}

func TestPrepareReportsAllProblemsTogether(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	input := `[
		{"name": "root", "priority": 9, "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["a", "ghost"]},
		{"name": "a", "parent_id": "root", "priority": "high", "schemas": {"method": "missing"}},
		{"name": "b", "parent_id": "nowhere", "schemas": {"method": "count"}, "inputs": {"count": "x"}},
		{"name": "a", "parent_id": "root", "dependencies": ["b"], "schemas": {"method": "echo"}},
		{"name": "c", "parent_id": "root", "dependencies": ["d"], "schemas": {"method": "echo"}},
		{"name": "d", "parent_id": "root", "dependencies": ["c"], "schemas": {"method": "echo"}}
	]`
	_, err := Prepare(context.Background(), []byte(input), opts)
	ae, ps := problemsOf(t, err)
	if ae.Code != apferr.InvalidParams {
		t.Errorf("code %d, want InvalidParams (the first class is structure)", ae.Code)
	}
	expectProblems(t, ps,
		want{code: apferr.InvalidParams, task: "a", field: "priority"},
		want{code: apferr.InvalidParams, task: "a", field: "name", reason: "duplicate"},
		want{code: apferr.InvalidParent, task: "b", field: "parent_id"},
		want{code: apferr.InvalidDependency, task: "root", field: "dependencies[1]"},
		want{code: apferr.CircularDependency, task: "c", cycle: "c -> d -> c"},
		want{code: apferr.InvalidParams, task: "root", field: "priority", reason: "out of range"},
		want{code: apferr.ExecutorNotFound, task: "a", field: "schemas.method"},
		want{code: apferr.InvalidParams, task: "b", field: "inputs.count"},
	)
	// Problems are ordered by class: codes never go back to an earlier class.
	order := map[apferr.Code][]int{}
	for i, p := range ps {
		order[p.Code] = append(order[p.Code], i)
	}
	if first, last := order[apferr.InvalidParent][0], order[apferr.CircularDependency][0]; first > last {
		t.Errorf("parent problems (at %d) after dependency cycles (at %d)", first, last)
	}
	for _, line := range []string{"priority", "inputs.count", "c -> d -> c"} {
		if !strings.Contains(ae.Message, line) {
			t.Errorf("message does not mention %q:\n%s", line, ae.Message)
		}
	}
}

func TestPrepareCodeFollowsFirstClass(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	// Only a dependency cycle and a bad priority: the cycle class comes first.
	input := `[{"name": "r", "priority": 7, "dependencies": ["x"], "schemas": {"method": "echo"}},
		{"name": "x", "parent_id": "r", "dependencies": ["r"], "schemas": {"method": "echo"}}]`
	_, err := Prepare(context.Background(), []byte(input), opts)
	ae, ps := problemsOf(t, err)
	if ae.Code != apferr.CircularDependency {
		t.Fatalf("code %d, want CircularDependency", ae.Code)
	}
	data := ae.Data.(map[string]any)
	if got := fmt.Sprint(data["cycle"]); got != "[r x r]" {
		t.Errorf("data.cycle = %v, want [r x r]", got)
	}
	expectProblems(t, ps, want{code: apferr.InvalidParams, field: "priority"})
}

func TestPrepareLimitsProblemCount(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	opts.MaxProblems = 5
	var b strings.Builder
	b.WriteString(`[{"name": "r", "schemas": {"method": "echo"}}`)
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, `, {"name": "t%d", "parent_id": "r", "priority": 9, "schemas": {"method": "echo"}}`, i)
	}
	b.WriteString("]")
	_, err := Prepare(context.Background(), []byte(b.String()), opts)
	_, ps := problemsOf(t, err)
	if len(ps) != 6 {
		t.Fatalf("%d problems, want 5 and a summary", len(ps))
	}
	if !strings.Contains(ps[5].Reason, "45 more problem(s)") {
		t.Errorf("summary reason %q", ps[5].Reason)
	}
	if msg := err.Error(); !strings.Contains(msg, "failed: 50 problem(s)") {
		t.Errorf("message %q does not count all 50 problems", msg)
	}
}

func TestPrepareLookupFailures(t *testing.T) {
	t.Parallel()
	boom := errors.New("store unavailable")
	opts, _ := setup(t)
	opts.Exists = func(context.Context, string) (bool, error) { return false, boom }
	_, err := Prepare(context.Background(), []byte(`{"id": "x", "name": "r", "schemas": {"method": "echo"}}`), opts)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v does not wrap the look-up error", err)
	}
	if !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("error %q does not name the id", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	opts.Exists = func(ctx context.Context, _ string) (bool, error) { return false, nil }
	if _, err := Prepare(ctx, []byte(`{"id": "x", "name": "r", "schemas": {"method": "echo"}}`), opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: error %v", err)
	}
}

func TestPrepareCatalogError(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	opts.Catalog = failingCatalog{}
	_, err := Prepare(context.Background(), []byte(`{"name": "r", "schemas": {"method": "echo"}}`), opts)
	if err == nil || apferr.As(err) == nil || apferr.CodeOf(err) != apferr.Internal {
		t.Fatalf("error %v, want the catalog's internal error wrapped", err)
	}
	if !strings.Contains(err.Error(), `executor "echo"`) {
		t.Errorf("error %q does not name the executor", err)
	}
}

// failingCatalog fails every look-up with an internal error.
type failingCatalog struct{}

func (failingCatalog) Lookup(string) (executor.Handle, error) {
	return nil, apferr.New(apferr.Internal, "registry corrupt")
}
func (failingCatalog) List() []*executor.Info { return nil }
