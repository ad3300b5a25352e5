package hooks

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/task"
)

// preInput is the pre_hook input document.
type preInput struct {
	Task   *task.Task     `json:"task"`
	Inputs map[string]any `json:"inputs"`
}

// postInput is the post_hook input document.
type postInput struct {
	Task   *task.Task     `json:"task"`
	Inputs map[string]any `json:"inputs"`
	Result any            `json:"result"`
}

// appendJSON appends {"task":…,"inputs":…}, the task in its wire form.
func (in preInput) appendJSON(b []byte) ([]byte, error) {
	b, err := appendTaskAndInputs(b, in.Task, in.Inputs)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSON appends {"task":…,"inputs":…,"result":…}, the task in its wire form.
func (in postInput) appendJSON(b []byte) ([]byte, error) {
	b, err := appendTaskAndInputs(b, in.Task, in.Inputs)
	if err != nil {
		return nil, err
	}
	result, err := json.Marshal(in.Result)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"result":`...)
	return append(append(b, result...), '}'), nil
}

// appendTaskAndInputs appends {"task":<t>,"inputs":<inputs> (no closing brace): t as
// Task.MarshalJSON writes it, inputs as json.Marshal does.
func appendTaskAndInputs(b []byte, t *task.Task, inputs map[string]any) ([]byte, error) {
	b = append(b, `{"task":`...)
	b, err := t.AppendJSON(b, nil)
	if err != nil {
		return nil, err
	}
	in, err := json.Marshal(inputs)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"inputs":`...)
	return append(b, in...), nil
}

// Pre runs the pre-hooks around task t, in registration order, starting from inputs
// (after dependency injection). It returns the inputs the executor gets, or nil when no
// hook changed them, and the errors of the hooks that failed. A failing hook leaves the
// inputs as they were before it; the chain continues. inputs is not modified.
func (r *Runner) Pre(ctx context.Context, t *task.Task, inputs map[string]any) (map[string]any, []error) {
	cur, changed := inputs, false
	errs := r.around(t, "pre_hook", func(id string, h *registry.HookHandle) error {
		view := *t // shallow: the task as this hook sees it, with the current inputs
		view.Inputs = cur
		if cur == nil {
			view.Inputs = map[string]any{}
		}
		doc, err := r.call(ctx, id, h, "pre_hook", preInput{Task: &view, Inputs: view.Inputs},
			executor.HookLogger(ctx, id, r.log.With("hook", id, "task", t.ID, "export", "pre_hook")))
		if err != nil {
			return err
		}
		raw, ok := doc["inputs"]
		if !ok {
			return nil
		}
		next, err := decodeInputs(raw)
		if err != nil {
			return hookErr(id, "pre_hook", err, "malformed result: %v", err)
		}
		cur, changed = next, true
		return nil
	})
	if !changed {
		return nil, errs
	}
	return cur, errs
}

// Post runs the post-hooks of a completed task t, in registration order, with its
// inputs and result. It does nothing for a task that is not completed (the engine calls
// it only for completed tasks; the check keeps the contract when another caller does
// not). It returns the errors of the hooks that failed.
func (r *Runner) Post(ctx context.Context, t *task.Task, inputs map[string]any, result any) []error {
	if t.Status != task.Completed {
		return nil
	}
	if inputs == nil {
		inputs = map[string]any{}
	}
	return r.around(t, "post_hook", func(id string, h *registry.HookHandle) error {
		_, err := r.call(ctx, id, h, "post_hook", postInput{Task: t, Inputs: inputs, Result: result},
			executor.HookLogger(ctx, id, r.log.With("hook", id, "task", t.ID, "export", "post_hook")))
		return err
	})
}

// around calls fn, in registration order, with every hook that exports export and runs
// around t's executor, each pinned to its current version for the call. It returns the
// errors of hooks that are not loaded or whose fn failed (each logged); the chain always
// goes on.
func (r *Runner) around(t *task.Task, export string, fn func(id string, h *registry.HookHandle) error) []error {
	var errs []error
	method := t.Method()
	for _, id := range r.ids {
		h, err := r.acquire(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !has(h, export) || !runsAround(h, method) {
			h.Release()
			continue
		}
		err = fn(id, h)
		h.Release()
		if err != nil {
			r.log.Warn(strings.Replace(export, "_", "-", 1)+" failed", "hook", id, "task", t.ID, "error", err)
			errs = append(errs, err)
		}
	}
	return errs
}
