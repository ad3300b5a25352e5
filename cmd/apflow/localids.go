package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// localizeIDs rewrites a task array so that the ids it gives become local names, for
// apflow run --server without --keep-ids: the API keeps a submission's ids
// (docs/api.md), so the client drops them (and task_tree_id) and points every
// reference at the referenced task's name, which the server resolves as well. A
// reference resolves as the server would have resolved it: an id first, then a name; a
// reference by id keeps that id as its injection key ("key"), so results are injected
// under the ids the file uses, as in a local run.
// Locally the same rule is submit.Options.LocalIDs, without rewriting anything.
func localizeIDs(tasks json.RawMessage) (json.RawMessage, error) {
	var list []map[string]any
	dec := json.NewDecoder(bytes.NewReader(tasks))
	dec.UseNumber() // numbers reach the server as written
	if err := dec.Decode(&list); err != nil {
		var one map[string]any
		dec = json.NewDecoder(bytes.NewReader(tasks))
		dec.UseNumber()
		if dec.Decode(&one) != nil || one == nil {
			return tasks, nil // neither a task array nor one task: the server explains
		}
		list = []map[string]any{one} // one task: its id is local too
		if _, err := localizeList(list); err != nil {
			return nil, err
		}
		return json.Marshal(one)
	}
	return localizeList(list)
}

// localizeList is localizeIDs on decoded tasks.
func localizeList(list []map[string]any) (json.RawMessage, error) {
	names := map[string]string{} // id → name
	for _, t := range list {
		id, hasID := t["id"].(string)
		name, hasName := t["name"].(string)
		if hasID && hasName {
			names[id] = name
		}
	}
	for i, t := range list {
		if _, ok := t["id"].(string); ok {
			if _, named := t["name"].(string); !named {
				return nil, fmt.Errorf("task %d gives an id but no name; a name is required (and stands for the id)", i)
			}
		}
		delete(t, "id")
		delete(t, "task_tree_id")
		if p, ok := t["parent_id"].(string); ok && names[p] != "" {
			t["parent_id"] = names[p]
		}
		if deps, ok := t["dependencies"].([]any); ok {
			for k, d := range deps {
				deps[k] = localizeDependency(d, names)
			}
		}
	}
	return json.Marshal(list)
}

// localizeDependency points one dependency reference at a name, keeping the local id it
// used as the key its result is injected under (as submit.Options.LocalIDs does).
func localizeDependency(d any, names map[string]string) any {
	switch x := d.(type) {
	case string:
		if n := names[x]; n != "" {
			return map[string]any{"name": n, "key": x}
		}
	case map[string]any:
		if id, ok := x["id"].(string); ok && names[id] != "" {
			delete(x, "id")
			x["name"] = names[id]
			if _, given := x["key"]; !given {
				x["key"] = id
			}
		}
	}
	return d
}
