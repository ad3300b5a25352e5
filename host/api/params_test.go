package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/schema"
)

// TestParamsErrorNamesOneFieldAlways: params with several bad fields get the same
// error every time (the first field in order), not one picked by map iteration.
func TestParamsErrorNamesOneFieldAlways(t *testing.T) {
	t.Parallel()
	m := &method{name: "tasks.list"}
	if err := m.compileSchema(); err != nil {
		t.Fatal(err)
	}
	params := json.RawMessage(`{"status": "done", "offset": -1, "limit": "ten", "colour": 1}`)
	const want = "Invalid params: colour: additionalProperties 'colour' not allowed"
	for range 50 {
		if err := m.validate(params); err == nil || err.Error() != want {
			t.Fatalf("validate = %v, want %s", err, want)
		}
	}
}

// TestSubmissionSkeleton: a submission's params decode for their schema with each task
// object of a task array empty, and everything else as schema.Decode decodes it.
func TestSubmissionSkeleton(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, params, want string // want: the skeleton as JSON, or "error"
	}{
		{"an array of tasks", `[{"name": "a", "inputs": {"x": 1}}, {"name": "b"}]`, `[{}, {}]`},
		{"an item that is no object", ` [{"name": "a"}, 5, "s", null]`, `[{}, 5, "s", null]`},
		{"the tasks member", `{"tasks": [{"name": "a"}], "use_streaming": true, "webhook_config": {"url": "u"}}`,
			`{"tasks": [{}], "use_streaming": true, "webhook_config": {"url": "u"}}`},
		{"tasks that are no array", `{"tasks": {"name": "a"}}`, `{"tasks": {"name": "a"}}`},
		{"one task object", `{"name": "a", "inputs": {"x": [1]}}`, `{"name": "a", "inputs": {"x": [1]}}`},
		{"a stored task's id", `{"task_id": "t"}`, `{"task_id": "t"}`},
		{"not JSON", `[{"name": "a"},]`, "error"},
		{"trailing data", `[{"name": "a"}] x`, "error"},
		{"empty", ``, "error"},
		{"not JSON white space first", "\u00a0[]", "error"},
	}
	for _, tt := range tests {
		got, err := submissionSkeleton([]byte(tt.params))
		if tt.want == "error" {
			if err == nil {
				t.Errorf("%s: skeleton %v, want an error", tt.name, got)
			}
			continue
		}
		want, _ := schema.Decode([]byte(tt.want))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: skeleton %v, %v; want %v", tt.name, got, err, want)
		}
	}
}

// FuzzSubmissionSkeleton: the skeleton fails exactly where schema.Decode fails, and is
// schema.Decode's value with each task object of a task array emptied.
func FuzzSubmissionSkeleton(f *testing.F) {
	for _, s := range []string{`[{"name":"a"},1]`, `{"tasks":[{"a":1}],"x":[{"b":2}]}`, `{"name":"a"}`, ` [ ] `, `{"tasks":[{}]} {}`, `"s"`, "\u0085[]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		full, ferr := schema.Decode(raw)
		got, err := submissionSkeleton(raw)
		if (ferr == nil) != (err == nil) {
			t.Fatalf("schema.Decode error %v, skeleton error %v", ferr, err)
		}
		if err != nil {
			return
		}
		if want := emptyTasks(full); !reflect.DeepEqual(got, want) {
			t.Fatalf("skeleton %#v, want %#v", got, want)
		}
	})
}

// emptyTasks is v with each object of a task array (v itself, or its "tasks" member)
// replaced by an empty object.
func emptyTasks(v any) any {
	empty := func(a []any) []any {
		out := make([]any, len(a))
		for i, x := range a {
			if _, ok := x.(map[string]any); ok {
				x = map[string]any{}
			}
			out[i] = x
		}
		return out
	}
	switch x := v.(type) {
	case []any:
		return empty(x)
	case map[string]any:
		if ts, ok := x["tasks"].([]any); ok {
			x["tasks"] = empty(ts)
		}
	}
	return v
}

// TestSubmissionMethodsLeaveTasksToTheValidator: the methods whose params carry a
// submission are marked so (validate decodes their tasks as empty objects), and their
// schemas type a task as an object and nothing more: a constraint added there would be
// published and never enforced, as the skeleton hides the task's fields from it.
func TestSubmissionMethodsLeaveTasksToTheValidator(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	for name, m := range e.srv.methods {
		want := name == "tasks.create" || name == "tasks.execute"
		if m.submission != want {
			t.Errorf("%s: submission %v, want %v", name, m.submission, want)
		}
		if !want {
			continue
		}
		var doc any
		if err := json.Unmarshal(m.schemaJSON, &doc); err != nil {
			t.Fatal(err)
		}
		items := taskItemSchemas(doc)
		if len(items) == 0 {
			t.Errorf("%s: no task item schema found", name)
		}
		for _, it := range items {
			if len(it) != 2 || it["type"] != "object" || it["description"] == nil {
				t.Errorf("%s: a task item schema %v, want only type object and a description", name, it)
			}
		}
	}
}

// taskItemSchemas finds the item schemas of the task arrays of a params schema: the
// items of an array schema with minItems (the array form) and of a "tasks" property.
func taskItemSchemas(v any) []map[string]any {
	var out []map[string]any
	var walk func(v any, tasks bool)
	walk = func(v any, tasks bool) {
		switch x := v.(type) {
		case map[string]any:
			if it, ok := x["items"].(map[string]any); ok && (tasks || x["type"] == "array" && x["minItems"] != nil) {
				out = append(out, it)
			}
			for k, c := range x {
				if k == "examples" {
					continue
				}
				walk(c, k == "tasks")
			}
		case []any:
			for _, c := range x {
				walk(c, false)
			}
		}
	}
	walk(v, false)
	return out
}

// TestDecodeParamsWholeNumbers: a whole number written with a fraction or an exponent is
// an integer, as JSON Schema has it; any other mismatch names the JSON type wanted.
func TestDecodeParamsWholeNumbers(t *testing.T) {
	t.Parallel()
	type params struct {
		Limit    int            `json:"limit"`
		Priority *int           `json:"priority"`
		Inputs   map[string]any `json:"inputs"`
		Hook     struct {
			MaxRetries int `json:"max_retries"`
		} `json:"hook"`
	}
	tests := []struct {
		name, raw string
		limit     int
		field     string // of the error; "" for none
		expected  string
	}{
		{"plain", `{"limit": 2}`, 2, "", ""},
		{"with a fraction", `{"limit": 2.0, "priority": 1e0}`, 2, "", ""},
		{"an exponent", `{"limit": 1e3}`, 1000, "", ""},
		{"inputs kept as written", `{"limit": 2.0, "inputs": {"x": 2.0}}`, 2, "", ""},
		{"nested", `{"limit": 2, "hook": {"max_retries": 3.0}}`, 2, "", ""},
		{"not whole", `{"limit": 2.5}`, 0, "limit", "integer"},
		{"a string", `{"limit": "2"}`, 0, "limit", "integer"},
		{"an object for a number", `{"priority": {}}`, 0, "priority", "integer"},
	}
	for _, tc := range tests {
		var p params
		err := decodeParams(json.RawMessage(tc.raw), &p)
		if tc.field == "" {
			if err != nil || p.Limit != tc.limit || (p.Inputs != nil && p.Inputs["x"] != json.Number("2.0")) ||
				(strings.Contains(tc.raw, "max_retries") && p.Hook.MaxRetries != 3) {
				t.Errorf("%s: limit %d, err %v; want %d", tc.name, p.Limit, err, tc.limit)
			}
			continue
		}
		e := apferr.As(err)
		if e == nil {
			t.Errorf("%s: err %v, want invalid params", tc.name, err)
			continue
		}
		d, _ := e.Data.(map[string]any)
		if d["field"] != tc.field || d["expected"] != tc.expected {
			t.Errorf("%s: error data %v, want field %s, expected %s", tc.name, d, tc.field, tc.expected)
		}
	}
}
