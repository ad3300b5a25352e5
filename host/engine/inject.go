package engine

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// infoFunc describes the executor registered under a method id, or returns nil.
type infoFunc func(method string) *executor.Info

// settled is what inject reads of a dependency's task. The coordinator copies it from the
// dependency's view when it prepares a start (coordinator.launch): the write that
// injects runs on the store's goroutine, and reads no node.
type settled struct {
	status task.Status
	result any
	method string
}

// inject returns t's inputs after dependency result injection, the reference algorithm
// (docs/semantics.md rule 11): for each dependency in declared order whose task is
// completed with a non-null result, the result ({"result": X} unwrapped to X) is merged
// into a shallow copy of t's own inputs (task.Task.OwnOrInputs: never what an earlier
// attempt injected), and merged reports whether any was. deps[k] is what the run keeps
// of the task of t.Dependencies[k] (the zero value when unknown). The returned map shares
// dependency values with the dependency tasks; callers that hand it to code that may
// modify it must deep-copy it.
func inject(t *task.Task, deps []settled, info infoFunc) (inputs map[string]any, merged bool) {
	own := t.OwnOrInputs()
	base := make(map[string]any, len(own)+len(deps))
	for k, v := range own {
		base[k] = v
	}
	var inProps map[string]bool
	inLoaded := false
	for k, d := range t.Dependencies {
		dep := deps[k]
		if dep.status != task.Completed || dep.result == nil {
			continue
		}
		r := dep.result
		if m, ok := r.(map[string]any); ok {
			if x, ok := m["result"]; ok {
				r = x
			}
		}
		if !inLoaded {
			inProps, inLoaded = inputProperties(t, info), true
		}
		merge(base, r, d.InjectKey(), t, inProps, outputProperties(dep.method, info))
		merged = true
	}
	return base, merged
}

// merge is the reference's merge step. inProps/outProps are nil when the corresponding
// schema is absent or declares no properties (the fallback branch).
func merge(base map[string]any, r any, depID string, t *task.Task, inProps, outProps map[string]bool) {
	effID := t.Method()
	obj, isObj := r.(map[string]any)
	if inProps == nil || outProps == nil {
		switch {
		case effID == builtin.AggregateResultsID:
			base[depID] = r
		case isObj:
			for k, v := range obj {
				base[k] = v
			}
		default:
			base[depID] = r
		}
		return
	}
	if !isObj {
		base[depID] = r
		return
	}
	if len(outProps) != 1 || !outProps["result"] {
		base[depID] = r // a "complex" output stays namespaced
		return
	}
	method, _ := t.Schemas["method"].(string)
	if effID == builtin.AggregateResultsID || strings.Contains(method, "aggregate") {
		base[depID] = r
		return
	}
	fields := make([]string, 0, len(inProps))
	for f := range inProps {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	matched := false
	for _, f := range fields {
		if v, ok := obj[f]; ok {
			base[f] = v
			matched = true
		} else if f == "content" {
			if v, ok := obj["result"]; ok {
				base["content"] = v
			}
		} else if f == "messages" {
			if v, ok := obj["result"].([]any); ok {
				base["messages"] = v
			}
		}
	}
	if !matched {
		for k, v := range obj {
			base[k] = v
		}
	}
}

// inputProperties returns the property names of the schema t's inputs are checked
// against: the task's own schemas.input_schema when set (it overrides the executor's, as
// in the reference), else the executor's input schema. nil means the schema is absent or
// empty for injection (see properties).
func inputProperties(t *task.Task, info infoFunc) map[string]bool {
	if s, ok := t.Schemas["input_schema"].(map[string]any); ok && len(s) > 0 {
		return properties(s)
	}
	if in := info(t.Method()); in != nil {
		return rawProperties(in.InputSchema)
	}
	return nil
}

// outputProperties returns the property names of the output schema of executor method,
// nil when it is absent or empty for injection.
func outputProperties(method string, info infoFunc) map[string]bool {
	if in := info(method); in != nil {
		return rawProperties(in.OutputSchema)
	}
	return nil
}

func rawProperties(raw json.RawMessage) map[string]bool {
	if len(raw) == 0 {
		return nil
	}
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil // not an object (e.g. true): says nothing about fields
	}
	return properties(s)
}

// properties returns the keys of schema.properties, or nil when the schema declares no
// properties. For injection a schema without properties is "empty" (docs/semantics.md rule 11 takes the
// fallback, flat-merge branch for an empty or absent schema): it names no field to pick,
// whatever else it says. So {"$schema": "..."} (what an SDK derives for an output of type
// any), {} and {"type": "object"} all select the fallback.
func properties(schema map[string]any) map[string]bool {
	p, _ := schema["properties"].(map[string]any)
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]bool, len(p))
	for k := range p {
		out[k] = true
	}
	return out
}
