package engine

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestInject(t *testing.T) {
	t.Parallel()
	infos := map[string]*executor.Info{
		"in":      {InputSchema: json.RawMessage(`{"properties":{"content":{},"x":{}}}`)},
		"msgs":    {InputSchema: json.RawMessage(`{"properties":{"messages":{}}}`)},
		"resout":  {OutputSchema: json.RawMessage(`{"properties":{"result":{}}}`)},
		"complex": {OutputSchema: json.RawMessage(`{"properties":{"a":{},"b":{}}}`)},
		// What the Go SDK used to derive for an output (input) of type any: no properties.
		"anyout":   {OutputSchema: json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema"}`)},
		"objout":   {OutputSchema: json.RawMessage(`{"type":"object","properties":{}}`)},
		"trueout":  {OutputSchema: json.RawMessage(`true`)},
		"anyin":    {InputSchema: json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema"}`)},
		"needtext": {InputSchema: json.RawMessage(`{"type":"object","required":["text"],"properties":{"text":{"type":"string"}}}`)},
	}
	info := func(m string) *executor.Info { return infos[m] }
	done := func(id, method string, r any) *task.Task {
		return &task.Task{ID: id, Status: task.Completed, Result: r, Schemas: map[string]any{"method": method}}
	}
	tests := []struct {
		name   string
		method string
		inputs map[string]any
		deps   []*task.Task
		want   map[string]any
	}{
		{"flat merge, later wins, own overwritten", "plain", map[string]any{"k": "own", "z": 1},
			[]*task.Task{done("a", "x", map[string]any{"k": "a", "x": 1}), done("b", "x", map[string]any{"k": "b"})},
			map[string]any{"k": "b", "x": 1, "z": 1}},
		{"unwrap result", "plain", nil, []*task.Task{done("a", "x", map[string]any{"result": map[string]any{"v": 1}, "s": 2})},
			map[string]any{"v": 1}},
		{"non-object under dep id", "plain", nil, []*task.Task{done("a", "x", "s"), done("b", "x", map[string]any{"result": []any{1}})},
			map[string]any{"a": "s", "b": []any{1}}},
		{"aggregator keeps ids", "aggregate_results_executor", nil, []*task.Task{done("a", "x", map[string]any{"v": 1})},
			map[string]any{"a": map[string]any{"v": 1}}},
		{"null result and unfinished skipped", "plain", nil,
			[]*task.Task{done("a", "x", nil), {ID: "b", Status: task.Failed, Result: map[string]any{"error": "e"}}, nil},
			map[string]any{}},
		{"schema: matching fields picked", "in", nil,
			[]*task.Task{done("a", "resout", map[string]any{"x": 1, "other": 2})}, map[string]any{"x": 1}},
		{"schema: content from result", "in", nil,
			[]*task.Task{done("a", "resout", map[string]any{"result": map[string]any{"result": "text"}})}, map[string]any{"content": "text", "result": "text"}},
		{"schema: no field matches merges all", "msgs", nil,
			[]*task.Task{done("a", "resout", map[string]any{"q": 1})}, map[string]any{"q": 1}},
		{"schema: complex output namespaced", "in", nil,
			[]*task.Task{done("a", "complex", map[string]any{"a": 1})}, map[string]any{"a": map[string]any{"a": 1}}},
		{"output schema without properties is empty: flat merge", "needtext", nil,
			[]*task.Task{done("a", "anyout", map[string]any{"text": "hi", "n": 1})}, map[string]any{"text": "hi", "n": 1}},
		{"output schema with empty properties is empty: flat merge", "in", nil,
			[]*task.Task{done("a", "objout", map[string]any{"q": 1})}, map[string]any{"q": 1}},
		{"boolean output schema is empty: flat merge", "needtext", nil,
			[]*task.Task{done("a", "trueout", map[string]any{"text": "t"})}, map[string]any{"text": "t"}},
		{"input schema without properties is empty: complex output flat-merged", "anyin", nil,
			[]*task.Task{done("a", "complex", map[string]any{"a": 1, "b": 2})}, map[string]any{"a": 1, "b": 2}},
		{"empty output schema: aggregator still keeps ids", "aggregate_results_executor", nil,
			[]*task.Task{done("a", "anyout", map[string]any{"v": 1})}, map[string]any{"a": map[string]any{"v": 1}}},
		{"empty output schema: non-object under dep id", "needtext", nil,
			[]*task.Task{done("a", "anyout", "plain")}, map[string]any{"a": "plain"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tk := &task.Task{ID: "t", Inputs: tc.inputs, Schemas: map[string]any{"method": tc.method}}
			for _, d := range tc.deps {
				id := "missing"
				if d != nil {
					id = d.ID
				}
				tk.Dependencies = append(tk.Dependencies, task.Dependency{ID: id, Required: true})
			}
			deps := make([]settled, len(tc.deps))
			for k, d := range tc.deps {
				if d != nil {
					deps[k] = settled{status: d.Status, result: d.Result, method: d.Method()}
				}
			}
			got, _ := inject(tk, deps, info)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("inject = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSlowSubscriberStillGetsRunEnd(t *testing.T) {
	t.Parallel()
	v := setup(t)
	events, stop := v.e.Subscribe("")
	defer stop()
	specs := []spec{{id: "root", method: "noop"}}
	for i := 0; i < 700; i++ {
		specs = append(specs, spec{id: "c" + itoa(i), method: "noop"})
	}
	v.run(v.create(specs...), RunOptions{}) // > subscriberBuffer events, none read yet
	var last Event
	n := 0
	for len(events) > 0 {
		last = <-events
		n++
	}
	if last.Type != EventRunEnd || n != subscriberBuffer {
		t.Fatalf("read %d events, last %q; want a full buffer ending with run_end", n, last.Type)
	}
}
