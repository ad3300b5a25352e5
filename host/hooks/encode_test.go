package hooks

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestEncodeInputIsJSONMarshal: the task hooks' documents, written by appendJSON, read
// back as what json.Marshal writes of the same values.
func TestEncodeInputIsJSONMarshal(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 4, 5, 123456789, time.UTC)
	plain := &task.Task{ID: "a", TaskTreeID: "a", Name: "a", Status: task.InProgress, Priority: 2,
		Schemas: map[string]any{"method": "echo"}, CreatedAt: now, UpdatedAt: now}
	rich := &task.Task{ID: "b<&>", ParentID: "r", TaskTreeID: "r", Name: "tags <b> & \"quotes\" é \u2028",
		Status: task.Completed, Priority: 0, Schemas: map[string]any{"method": "echo"},
		Dependencies: []task.Dependency{{ID: "x", Required: true}}, Params: map[string]any{"n": json.Number("1e400")},
		Result: json.RawMessage(`{ "spaced" : [1, 2] }`), CreatedAt: now, UpdatedAt: now, StartedAt: now, Seq: 7}
	for _, tc := range []struct {
		name  string
		input any
	}{
		{"pre, no inputs", preInput{Task: plain, Inputs: map[string]any{}}},
		{"pre, nil inputs", preInput{Task: plain}},
		{"pre, inputs", preInput{Task: rich, Inputs: map[string]any{"z": "<x>", "a": json.Number("12.50"), "n": []any{nil, true}}}},
		{"post, nil result", postInput{Task: plain, Inputs: map[string]any{}}},
		{"post, raw result", postInput{Task: rich, Inputs: map[string]any{"k": "v"}, Result: json.RawMessage(`{"a" : "<&>"}`)}},
		{"post, string result", postInput{Task: rich, Inputs: map[string]any{}, Result: "done & dusted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := encodeInput(tc.input)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(tc.input)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("not JSON: %s", got)
			}
			if g, w := decode(t, got), decode(t, want); !reflect.DeepEqual(g, w) {
				t.Fatalf("encoded\n%s\njson.Marshal\n%s", got, want)
			}
		})
	}
}

func decode(t *testing.T, doc []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	return v
}
