package builtin

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestSummary(t *testing.T) {
	t.Parallel()
	tests := []struct {
		keys []string
		want string
	}{
		{nil, "No task results to aggregate"},
		{[]string{"a"}, "Aggregated 1 task result. from: a"},
		{[]string{"a", "b", "c"}, "Aggregated 3 task results. from: a, b, c"},
		{[]string{"a", "b", "c", "d"}, "Aggregated 4 task results"},
	}
	for _, tc := range tests {
		if got := summary(tc.keys); got != tc.want {
			t.Errorf("summary(%v) = %q, want %q", tc.keys, got, tc.want)
		}
	}
}

func TestAggregate(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2026, 3, 1, 12, 30, 45, 123456000, time.Local)
	tests := []struct {
		name   string
		inputs string
		want   string
	}{
		{
			name:   "dependency results keyed by id",
			inputs: `{"cpu":{"cores":8},"mem":{"total_gb":64.0}}`,
			want:   `{"result_count":2,"results":{"cpu":{"cores":8},"mem":{"total_gb":64.0}},"summary":"Aggregated 2 task results. from: cpu, mem","timestamp":"2026-03-01T12:30:45.123456"}`,
		},
		{
			name:   "markers and dotted keys excluded",
			inputs: `{"_pre_hook_executed":true,"_pre_hook_timestamp":"x","a.b":1,"x":[1,2]}`,
			want:   `{"result_count":1,"results":{"x":[1,2]},"summary":"Aggregated 1 task result. from: x","timestamp":"2026-03-01T12:30:45.123456"}`,
		},
		{
			name:   "empty",
			inputs: ``,
			want:   `{"result_count":0,"results":{},"summary":"No task results to aggregate","timestamp":"2026-03-01T12:30:45.123456"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := aggregate(context.Background(), &executor.Request{Task: &task.Task{ID: "root"}, Inputs: json.RawMessage(tc.inputs)}, func() time.Time { return fixed })
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Output) != tc.want {
				t.Fatalf("output\n got %s\nwant %s", resp.Output, tc.want)
			}
			if resp.Plugin != "" {
				t.Fatalf("built-in reported plugin hash %q", resp.Plugin)
			}
		})
	}
}

func TestAggregateRejectsNonObject(t *testing.T) {
	t.Parallel()
	_, err := aggregate(context.Background(), &executor.Request{Task: &task.Task{ID: "t1"}, Inputs: json.RawMessage(`[1]`)}, time.Now)
	if err == nil || !strings.Contains(err.Error(), "t1") {
		t.Fatalf("err = %v, want an error naming the task", err)
	}
}

func TestAggregateHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := aggregate(ctx, &executor.Request{}, time.Now); err == nil {
		t.Fatal("aggregate ran with a cancelled context")
	}
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	c := Catalog()
	h, err := c.Lookup(AggregateResultsID)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	info := h.Info()
	if info.Kind != "builtin" || info.Compiled == nil || len(info.InputSchema) == 0 || len(info.OutputSchema) == 0 {
		t.Fatalf("info = %+v, want a builtin with compiled input schema and output schema", info)
	}
	if err := info.Compiled.Validate(map[string]any{"_dependencies": "not an array"}); err == nil {
		t.Fatal("input schema accepted _dependencies that is not an array")
	}
	resp, err := h.Execute(context.Background(), &executor.Request{Task: &task.Task{ID: "r"}, Inputs: json.RawMessage(`{"a":1}`)})
	if err != nil || !strings.Contains(string(resp.Output), `"result_count":1`) {
		t.Fatalf("Execute = %s, %v", resp.Output, err)
	}
	if _, err := c.Lookup("nope"); apferr.CodeOf(err) != apferr.ExecutorNotFound {
		t.Fatalf("Lookup(nope) = %v, want ExecutorNotFound", err)
	}
	list := c.List()
	if len(list) != 2 || list[0].ID != AggregateResultsID || list[1].ID != GenerateID {
		t.Fatalf("List = %v", list)
	}
	r := c.(executor.Registers)
	for _, id := range []string{AggregateResultsID, GenerateID, "nope"} {
		_, err := c.Lookup(id)
		if r.Registers(id) != (err == nil) {
			t.Errorf("Registers(%q) = %v, but Lookup's error is %v", id, r.Registers(id), err)
		}
	}
}

// TestExecuteValidatesUnlessValidated: a direct caller gets inputs checked against the
// built-in's input schema; the engine, which validated them already, does not pay twice.
func TestExecuteValidatesUnlessValidated(t *testing.T) {
	t.Parallel()
	h, err := Catalog().Lookup(AggregateResultsID)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	tests := []struct {
		name      string
		inputs    string
		validated bool
		wantErr   string
	}{
		{"direct call, invalid", `{"_dependencies": "x"}`, false,
			"Input validation failed for task r: inputs._dependencies: expected array, but got string"},
		{"direct call, valid", `{"_dependencies": ["a"], "a": 1}`, false, ""},
		{"direct call, null inputs", `null`, false, ""},
		{"validated by the caller", `{"_dependencies": "x"}`, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.Info().Compiled.Validations()
			_, err := h.Execute(context.Background(), &executor.Request{Task: &task.Task{ID: "r"},
				Inputs: json.RawMessage(tt.inputs), Validated: tt.validated})
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if n := h.Info().Compiled.Validations() - before; (n == 1) == tt.validated {
				t.Fatalf("validated %d times, caller validated: %v", n, tt.validated)
			}
		})
	}
}
