package generate

import "strconv"

// AggregatorID is the executor of the aggregator root (docs/semantics.md rule 10); it
// equals builtin.AggregateResultsID (host/builtin tests check it), declared here because
// host/builtin imports this package for generate_executor.
const AggregatorID = "aggregate_results_executor"

// fix applies the mechanical repairs to tasks, in place, and returns the tree to
// validate:
//   - every task gets a fresh id, newID(), whatever id the model gave (the model's ids
//     would collide with the trees generated before from the same requirement);
//   - a parent_id or dependency that is an id the model gave becomes that task's fresh
//     id (the first task with it when the model repeated an id); names stay as given;
//   - a parent_id that is no task's id but a task's name becomes that task's id;
//   - several roots are wrapped: a new root (executor AggregatorID, named "root" or
//     "root-2", … when taken) depends on the former roots, which become its children.
//
// Anything else (unknown references, cycles, bad inputs) is left for the validator.
func fix(tasks []map[string]any, newID func() string) []map[string]any {
	given := map[string]string{} // the model's id -> fresh id
	for _, t := range tasks {
		id := newID()
		if old, ok := t["id"].(string); ok && old != "" {
			if _, dup := given[old]; !dup {
				given[old] = id
			}
		}
		t["id"] = id
	}
	names := map[string]string{} // name -> id
	for _, t := range tasks {
		if n, ok := t["name"].(string); ok && n != "" {
			if _, dup := names[n]; !dup {
				names[n] = t["id"].(string)
			}
		}
		if p, ok := t["parent_id"].(string); ok {
			if id, ok := given[p]; ok {
				t["parent_id"] = id
			}
		}
		renameDependencies(t, given)
	}
	ids := map[string]bool{}
	for _, t := range tasks {
		ids[t["id"].(string)] = true
	}
	var roots []map[string]any
	for _, t := range tasks {
		p, isString := t["parent_id"].(string)
		switch {
		case t["parent_id"] == nil || (isString && p == ""):
			roots = append(roots, t)
		case isString && !ids[p]:
			if id, ok := names[p]; ok {
				t["parent_id"] = id
			}
		}
	}
	if len(roots) < 2 {
		return tasks
	}
	root := map[string]any{
		"id":      newID(),
		"name":    freeName(names, "root"),
		"schemas": map[string]any{"method": AggregatorID},
		"inputs":  map[string]any{},
	}
	deps := make([]any, 0, len(roots))
	for _, r := range roots {
		ref := r["id"]
		if n, ok := r["name"].(string); ok && n != "" {
			ref = n
		}
		deps = append(deps, ref)
		r["parent_id"] = root["id"]
	}
	root["dependencies"] = deps
	return append([]map[string]any{root}, tasks...)
}

// freeName returns base, or base-2, base-3, … the first that is no task's name.
func freeName(names map[string]string, base string) string {
	if _, taken := names[base]; !taken {
		return base
	}
	for i := 2; ; i++ {
		n := base + "-" + strconv.Itoa(i)
		if _, taken := names[n]; !taken {
			return n
		}
	}
}

// renameDependencies rewrites t's dependencies that are ids the model gave (a string,
// or an object's "id") to the fresh ids of given.
func renameDependencies(t map[string]any, given map[string]string) {
	deps, _ := t["dependencies"].([]any)
	for i, d := range deps {
		switch d := d.(type) {
		case string:
			if id, ok := given[d]; ok {
				deps[i] = id
			}
		case map[string]any:
			if ref, ok := d["id"].(string); ok {
				if id, ok := given[ref]; ok {
					d["id"] = id
				}
			}
		}
	}
}
