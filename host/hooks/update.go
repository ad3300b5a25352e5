package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/task"
)

// UpdatableFields are the task fields update_task may write. They follow the checks of
// tasks.update: name is a string of 1..255 characters, priority an integer 0..3, params
// and schemas an object or null.
var UpdatableFields = []string{"name", "params", "priority", "schemas"}

// refused explains why the fields a hook may not write are refused.
var refused = map[string]string{
	"inputs":       "inputs change only through a pre-hook's result {\"inputs\": …}, which the host persists",
	"id":           "identity fields never change",
	"parent_id":    "identity fields never change",
	"task_tree_id": "identity fields never change",
	"user_id":      "identity fields never change",
	"created_at":   "identity fields never change",
	"seq":          "identity fields never change",
	"status":       "status changes only through the task lifecycle (execute, cancel)",
	"result":       "the outcome is written by the engine",
	"error":        "the outcome is written by the engine",
	"progress":     "the outcome is written by the engine",
	"started_at":   "the outcome is written by the engine",
	"completed_at": "the outcome is written by the engine",
	"dependencies": "dependencies change only through tasks.update, which checks the tree",
}

func (r *Repository) updateTask(ctx context.Context, req *request) (*task.Task, error) {
	if req.ID == "" {
		return nil, errors.New(`update_task: field "id" is required`)
	}
	if len(req.Fields) == 0 {
		return nil, fmt.Errorf("update_task %s: field \"fields\" must be a non-empty object (one of %s)", req.ID, strings.Join(UpdatableFields, ", "))
	}
	keys := make([]string, 0, len(req.Fields))
	for k := range req.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Check everything before the transaction, so that a refusal writes nothing.
	set := make([]func(*task.Task), 0, len(keys))
	for _, k := range keys {
		fn, err := fieldSetter(k, req.Fields[k])
		if err != nil {
			return nil, fmt.Errorf("update_task %s: field %q: %v", req.ID, k, err)
		}
		set = append(set, fn)
	}
	now := r.now()
	t, err := r.st.Update(ctx, req.ID, func(t *task.Task) error {
		for _, fn := range set {
			fn(t)
		}
		t.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update_task %s: %w", req.ID, err)
	}
	return t, nil
}

// paramsSetter checks new params as tasks.update does (task.CheckParams: their limits
// move out of params into the task's) and returns the function that writes them.
func paramsSetter(m map[string]any) (func(*task.Task), error) {
	l, set, probs := task.CheckParams(nil, false, m)
	if len(probs) > 0 {
		return nil, errors.New(task.DescribeProblems(probs))
	}
	return func(t *task.Task) {
		t.Params = m
		if set {
			t.Limits = l
		}
	}, nil
}

// fieldSetter checks one field's new value and returns the function that writes it.
func fieldSetter(k string, raw json.RawMessage) (func(*task.Task), error) {
	if why, ok := refused[k]; ok {
		return nil, errors.New("cannot be updated by a hook: " + why)
	}
	null := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	switch k {
	case "name":
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || null {
			return nil, fmt.Errorf("must be a string, got %s", preview(raw))
		}
		if n := utf8.RuneCountInString(s); n < 1 || n > 255 {
			return nil, fmt.Errorf("must be 1..255 characters, got %d", n)
		}
		return func(t *task.Task) { t.Name = s }, nil
	case "priority":
		// Decoded as any: json.Number alone would also accept the string "1".
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		err := dec.Decode(&v)
		n, ok := v.(json.Number)
		if err != nil || !ok {
			return nil, fmt.Errorf("must be an integer %d..%d, got %s", task.MinPriority, task.MaxPriority, preview(raw))
		}
		p, err := n.Int64()
		if err != nil || p < task.MinPriority || p > task.MaxPriority {
			return nil, fmt.Errorf("must be an integer %d..%d, got %s", task.MinPriority, task.MaxPriority, n)
		}
		return func(t *task.Task) { t.Priority = int(p) }, nil
	case "params", "schemas":
		var m map[string]any
		if !null {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			var v any
			err := dec.Decode(&v)
			obj, ok := v.(map[string]any)
			if err != nil || !ok {
				return nil, fmt.Errorf("must be an object or null, got %s", preview(raw))
			}
			m = obj
		}
		if k == "params" {
			return paramsSetter(m)
		}
		return func(t *task.Task) { t.Schemas = m }, nil
	}
	return nil, fmt.Errorf("is not a field a hook can update (one of %s)", strings.Join(UpdatableFields, ", "))
}
