// Command json_transform is the json_transform executor: it reshapes JSON with dotted
// paths and renders {{path}} templates, typically over results that dependencies injected.
//
// Inputs (all optional):
//
//	data      the document to transform; default: the inputs themselves without the
//	          transform keys below (so injected dependency results are the document)
//	pick      ["a.b", "c"]            keep only these paths
//	rename    {"a.b": "x"}            move values (missing sources are skipped)
//	omit      ["c.secret"]            delete paths
//	set       {"meta.by": "{{user}}"} set paths to values; strings are templates
//	template  any JSON                the output: every string in it is a template
//
// Steps run in that order; set and template read the original document, so they can use
// values that pick or omit removed. Without template the output is the transformed
// document. Paths are dot-separated keys, with numeric segments indexing arrays
// ("items.0.name"); "." is the whole document.
//
// Templates: "{{path}}" alone in a string yields the value with its JSON type; inside
// other text it is rendered (strings as is, other values as JSON). Filters follow pipes:
// {{path | upper}}, lower, trim, length, json, round:N, join:SEP, default:VALUE (used
// when the path is missing or null; VALUE is JSON if it parses, else text). A missing path
// without default fails the task naming the path.
package main

import (
	"fmt"
	"maps"
	"slices"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

const inputSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "data": {"description": "The document to transform; default: the inputs without the transform keys."},
    "pick": {"type": "array", "items": {"type": "string"}, "description": "Keep only these dotted paths."},
    "rename": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Move values from path (key) to path (value)."},
    "omit": {"type": "array", "items": {"type": "string"}, "description": "Delete these dotted paths."},
    "set": {"type": "object", "description": "Set dotted paths to values; strings are templates."},
    "template": {"description": "The output; every string in it is a {{path | filter}} template."}
  }
}`

var transformKeys = []string{"data", "pick", "rename", "omit", "set", "template"}

func main() {}

func init() {
	apflow.Register(apflow.Executor[map[string]any, any]{
		ID:          "json_transform",
		Name:        "JSON transform",
		Description: "Picks, renames, omits and sets fields by dotted path and renders {{path}} templates over the inputs.",
		Version:     "1.0.0",
		Tags:        []string{"json", "transform", "demo"},
		InputSchema: inputSchema,
		Run:         run,
	})
}

func run(ctx *apflow.Context, in map[string]any) (any, error) {
	var source any
	if d, ok := in["data"]; ok {
		source = d
	} else {
		doc := maps.Clone(in)
		for _, k := range transformKeys {
			delete(doc, k)
		}
		if doc == nil {
			doc = map[string]any{}
		}
		source = doc
	}
	doc := deepCopy(source)

	pick, err := stringList(in, "pick")
	if err != nil {
		return nil, err
	}
	if pick != nil {
		picked := any(map[string]any{})
		for _, p := range pick {
			if v, ok := get(source, p); ok {
				if picked, err = set(picked, p, deepCopy(v)); err != nil {
					return nil, apflow.Errorf("pick %q: %v", p, err).WithCode("invalid_path")
				}
			}
		}
		doc = picked
	}
	if r, ok := in["rename"]; ok {
		rename, ok := r.(map[string]any)
		if !ok {
			return nil, apflow.NewError("invalid_inputs", "rename must be an object of path to path", map[string]any{"field": "rename"})
		}
		for _, from := range slices.Sorted(maps.Keys(rename)) {
			to, ok := rename[from].(string)
			if !ok {
				return nil, apflow.NewError("invalid_inputs", fmt.Sprintf("rename %q: the target must be a string path", from), map[string]any{"field": "rename"})
			}
			v, ok := get(doc, from)
			if !ok {
				ctx.Log.Debug("rename source missing, skipped", "path", from)
				continue
			}
			if doc, err = del(doc, from); err != nil {
				return nil, apflow.Errorf("rename %q: %v", from, err).WithCode("invalid_path")
			}
			if doc, err = set(doc, to, v); err != nil {
				return nil, apflow.Errorf("rename %q to %q: %v", from, to, err).WithCode("invalid_path")
			}
		}
	}
	omit, err := stringList(in, "omit")
	if err != nil {
		return nil, err
	}
	for _, p := range omit {
		if doc, err = del(doc, p); err != nil {
			return nil, apflow.Errorf("omit %q: %v", p, err).WithCode("invalid_path")
		}
	}
	if s, ok := in["set"]; ok {
		setMap, ok := s.(map[string]any)
		if !ok {
			return nil, apflow.NewError("invalid_inputs", "set must be an object of path to value", map[string]any{"field": "set"})
		}
		for _, p := range slices.Sorted(maps.Keys(setMap)) {
			v, err := render(setMap[p], source)
			if err != nil {
				return nil, apflow.Errorf("set %q: %v", p, err).WithCode("template")
			}
			if doc, err = set(doc, p, v); err != nil {
				return nil, apflow.Errorf("set %q: %v", p, err).WithCode("invalid_path")
			}
		}
	}
	if t, ok := in["template"]; ok {
		out, err := render(t, source)
		if err != nil {
			return nil, apflow.Errorf("template: %v", err).WithCode("template")
		}
		return out, nil
	}
	return doc, nil
}

func stringList(in map[string]any, key string) ([]string, error) {
	v, ok := in[key]
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, apflow.NewError("invalid_inputs", key+" must be a list of paths", map[string]any{"field": key})
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, apflow.NewError("invalid_inputs", fmt.Sprintf("%s[%d] must be a string path", key, i), map[string]any{"field": key})
		}
		out = append(out, s)
	}
	return out, nil
}
