package main

import (
	"encoding/json"
	"fmt"
)

// localizeIDs rewrites a task array so that the ids it gives become local names, for
// apflow run --server without --keep-ids: the API keeps a submission's ids
// (docs/api.md), so the client drops them (and task_tree_id) and points every
// reference at the referenced task's name, which the server resolves as well. A
// reference resolves as the server would have resolved it: an id first, then a name.
// Locally the same rule is submit.Options.LocalIDs, without rewriting anything.
func localizeIDs(tasks json.RawMessage) (json.RawMessage, error) {
	var list []map[string]any
	if err := json.Unmarshal(tasks, &list); err != nil {
		return tasks, nil // not an array of objects: the server explains what is wrong
	}
	names := map[string]string{} // id → name
	for _, t := range list {
		id, hasID := t["id"].(string)
		name, hasName := t["name"].(string)
		if hasID && hasName {
			names[id] = name
		}
	}
	if len(names) == 0 {
		return tasks, nil
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

// localizeDependency points one dependency reference at a name.
func localizeDependency(d any, names map[string]string) any {
	switch x := d.(type) {
	case string:
		if n := names[x]; n != "" {
			return n
		}
	case map[string]any:
		if id, ok := x["id"].(string); ok && names[id] != "" {
			delete(x, "id")
			x["name"] = names[id]
		}
	}
	return d
}
