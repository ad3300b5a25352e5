package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/retry"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/task"
)

// outcome is what a worker reports for one execution.
type outcome struct {
	idx           int32
	failed        bool
	msg           string // error of a failed task
	result        any
	inputs        map[string]any // inputs after pre-hooks
	inputsChanged bool
	inputsBefore  map[string]any // the inputs the pre-hooks got, when they changed them
	hookErrors    []string
	plugin        string
	usage         *task.Usage
	// ended is when the pipeline returned: the task's completed_at.
	ended time.Time
	// interrupted is true when the engine's shutdown stopped the executor.
	interrupted bool
	// policy is the task's resolved retry policy, failure what a failed attempt was, and
	// draw the random draw of its backoff's jitter (retry.go).
	policy  retry.Policy
	failure retry.Failure
	draw    float64
	// logs, when set, are the attempt's last log lines, for the coordinator to queue
	// ahead of the outcome's write (taskLogs.hold).
	logs *heldLines
}

// dispatch runs a started task on a worker goroutine (workers). The worker reports its outcome to the
// coordinator and keeps the task's execution slot: the coordinator frees it once the
// task's terminal state is durable (see coordinator.retiring).
func (c *coordinator) dispatch(i int32, t *task.Task, inputs map[string]any, h executor.Handle, lookupErr error) {
	ctx, cancel := context.WithCancel(c.engine.killCtx)
	c.graph.nodes[i].cancel = cancel
	c.run.running.Add(1)
	if t.Inputs != nil {
		inputs = t.Inputs // the stored copy: the worker owns it
	}
	c.engine.workers.run(func() { c.engine.work(ctx, cancel, c.run, i, t, inputs, h, lookupErr) })
}

func (e *Engine) work(ctx context.Context, cancel context.CancelFunc, r *Run, i int32, t *task.Task,
	inputs map[string]any, h executor.Handle, lookupErr error) {
	out := &outcome{idx: i, inputs: inputs}
	e.run1(ctx, r.rootID, t, h, lookupErr, out)
	// The attempt's lines are committed with its outcome or before it. Queued lines
	// share the outcome's commit only when the outcome goes through the store's queue:
	// a clustered run writes it through the cluster driver.
	if r.lease == nil {
		out.logs = e.logs.hold(ctx, t.ID)
	} else {
		e.logs.flush(ctx, t.ID)
	}
	cancel()
	r.inbox <- message{kind: msgOutcome, idx: i, out: out}
}

// run1 executes one started task (execute), turning a panic of the executor into the
// task's failure, stamps the outcome's end and releases the executor.
func (e *Engine) run1(ctx context.Context, rootID string, t *task.Task, h executor.Handle, lookupErr error, out *outcome) {
	func() {
		defer func() {
			if p := recover(); p != nil {
				out.fail(retry.KindError, fmt.Sprintf("executor %q panicked: %v", t.Method(), p))
				e.cfg.Logger.Error("executor panicked", "task", t.ID, "panic", p, "stack", string(debug.Stack()))
			}
		}()
		e.execute(ctx, rootID, t, h, lookupErr, out)
	}()
	out.ended = e.cfg.Now() // completed_at: the pipeline's end, not the log write's
	e.progress.drop(t.ID)   // the outcome sets the progress
	out.drawJitter()
	if h != nil {
		h.Release()
	}
}

// execute runs the single-task pipeline after the start transition: pre-hooks, input
// validation, the executor, result mapping (docs/semantics.md rule 12).
func (e *Engine) execute(ctx context.Context, rootID string, t *task.Task, h executor.Handle, lookupErr error, out *outcome) {
	var info *executor.Info
	if h != nil {
		info = h.Info()
	}
	out.policy = e.policyOf(t, info) // also for a failed lookup: the attempt is recorded
	if lookupErr != nil {
		out.fail(retry.KindPermanent, lookupErr.Error())
		return
	}
	if e.cfg.Hooks != nil {
		in := task.CloneValue(out.inputs).(map[string]any)
		if in == nil {
			in = map[string]any{}
		}
		changed, errs := e.cfg.Hooks.Pre(executor.WithLogTee(asCaller(ctx, t), e.logs.hookTee(rootID, t, t.NextAttempt())), t.Clone(), in)
		for _, err := range errs {
			out.hookErrors = append(out.hookErrors, "pre-hook: "+err.Error())
		}
		if changed == nil {
			changed = in
		}
		if !reflect.DeepEqual(jsonNormal(changed), jsonNormal(out.inputs)) {
			out.inputsBefore = out.inputs
			out.inputs, out.inputsChanged = changed, true
			e.persistInputs(t.ID, out.inputsBefore, changed)
		}
	}
	raw, err := json.Marshal(out.inputs)
	if err != nil {
		out.fail(retry.KindPermanent, fmt.Sprintf("inputs of task %s cannot be encoded as JSON: %v", t.ID, err))
		return
	}
	if out.inputs == nil {
		raw = []byte("{}")
	}
	if msg := e.validateInputs(t, h.Info(), raw); msg != "" {
		out.fail(retry.KindPermanent, msg)
		return
	}

	var lastProgress time.Time
	var mu sync.Mutex
	req := &executor.Request{
		Task:      t,
		Inputs:    raw,
		Validated: true, // just above, after the pre-hooks
		Limits:    effectiveLimits(e.cfg.Limits, t.Limits),
		Logger:    e.logs.logger(e.cfg.Logger.With("task", t.ID, "executor", t.Method()), rootID, t.ID, t.NextAttempt(), "executor"),
		Progress: func(p float64) {
			now := e.cfg.Now()
			mu.Lock()
			if now.Sub(lastProgress) < e.cfg.ProgressInterval {
				mu.Unlock()
				return
			}
			lastProgress = now
			mu.Unlock()
			e.reportProgress(ctx, rootID, t, out.inputs, p, now)
		},
	}
	start := time.Now()
	resp, err := h.Execute(asCaller(ctx, t), req)
	elapsed := time.Since(start)
	out.interrupted = ctx.Err() != nil && e.killCtx.Err() != nil
	if err != nil {
		out.fail(retry.Classify(err), err.Error())
		// A failed call's usage is what the executor measured when it says (the tokens
		// of llm_complete calls made before the failure were spent).
		u := task.Usage{DurationMS: ms(elapsed)}
		if resp != nil {
			u = resp.Usage
			if u.DurationMS == 0 {
				u.DurationMS = ms(elapsed)
			}
		}
		out.usage = &u
		e.calls.observe(t.Method(), u.DurationMS/1000)
		return
	}
	if resp == nil {
		resp = &executor.Response{}
	}
	u := resp.Usage
	if u.DurationMS == 0 {
		u.DurationMS = ms(elapsed)
	}
	out.usage, out.plugin = &u, resp.Plugin
	e.calls.observe(t.Method(), u.DurationMS/1000)
	result, err := decodeResult(resp.Output)
	if err != nil {
		out.fail(retry.KindPermanent, fmt.Sprintf("executor %q returned a malformed result: %v", t.Method(), err))
		return
	}
	out.result = result
	if m, ok := result.(map[string]any); ok {
		if v, ok := m["error"]; ok {
			out.fail(retry.KindErrorResult, executor.ErrorText(v))
			out.failure.Code = retry.CodeOf(m)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func clamp01(p float64) float64 {
	switch {
	case p < 0 || p != p:
		return 0
	case p > 1:
		return 1
	}
	return p
}

// decodeResult decodes an executor's JSON output; empty output is a null result.
func decodeResult(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	return schema.Decode(raw)
}

// jsonNormal maps a value to its JSON-decoded form so that inputs can be compared
// regardless of number representation.
func jsonNormal(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

// validateInputs checks the final inputs against the executor's compiled input schema
// and the task's own schemas.input_schema (compiled once per distinct document by
// Config.TaskSchemas); it returns the task error, or "". The inputs are an object: a
// schema every object satisfies is not run, and the inputs are decoded only for one
// that could reject them.
func (e *Engine) validateInputs(t *task.Task, info *executor.Info, raw []byte) string {
	var schemas []*schema.Schema
	if info != nil && info.Compiled != nil && !info.Compiled.AcceptsEveryObject() {
		schemas = append(schemas, info.Compiled)
	}
	if own, ok := t.Schemas["input_schema"]; ok && own != nil {
		doc, err := json.Marshal(own)
		if err != nil {
			return fmt.Sprintf("Input validation failed for task %s: schemas.input_schema cannot be encoded: %v", t.ID, err)
		}
		s, err := e.cfg.TaskSchemas.Compile(doc)
		if err != nil {
			return fmt.Sprintf("Input validation failed for task %s: schemas.input_schema does not compile: %v", t.ID, err)
		}
		if !s.AcceptsEveryObject() {
			schemas = append(schemas, s)
		}
	}
	if len(schemas) == 0 {
		return ""
	}
	v, err := schema.Decode(raw)
	if err != nil {
		return schema.InputsFailed(t.ID, err)
	}
	for _, s := range schemas {
		if err := s.Validate(v); err != nil {
			return schema.InputsFailed(t.ID, err)
		}
	}
	return ""
}

// asCaller is ctx for a plugin call made for task t, its executor's or a hook's: a
// language model's token budgets (llm_complete) count against t and its user.
func asCaller(ctx context.Context, t *task.Task) context.Context {
	return llm.WithCaller(ctx, llm.Caller{TaskID: t.ID, UserID: t.UserID})
}

// persistInputs writes inputs changed by pre-hooks while the task runs, and the inputs
// the hooks got (before).
func (e *Engine) persistInputs(id string, before, inputs map[string]any) {
	_, err := e.updateRunning(context.Background(), id, func(t *task.Task) error {
		if t.Status != task.InProgress {
			return nil
		}
		t.SetHookedInputs(before, inputs)
		return nil
	})
	if err != nil && !errors.Is(err, errNotClaimed) {
		e.cfg.Logger.Error("persisting pre-hook inputs failed", "task", id, "error", err)
	}
}

// errNotClaimed is the error of updateRunning for a task this cluster node no longer
// claims: the change is not written.
var errNotClaimed = errors.New("this node no longer claims the task")

// updateRunning writes a change of a task while it executes: in cluster mode fenced by
// its claim, so a node that lost the claim (or no longer holds it) changes nothing and
// gets errNotClaimed.
func (e *Engine) updateRunning(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	if e.m == nil {
		return e.cfg.Store.Update(ctx, id, fn)
	}
	c, ok := e.claimOf(id)
	if !ok {
		return nil, errNotClaimed
	}
	return e.m.d.UpdateClaimed(ctx, c, fn)
}
