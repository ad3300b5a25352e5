package pluginrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// Hooks a call may make instead of execute: the task hooks (docs/abi.md, "Hook
// exports"); the input is then the hook's input document.
const (
	HookPre  = "pre"
	HookPost = "post"
)

// Call is one call of a plugin.
type Call struct {
	// Input is the execute input (the task's inputs), or the hook's input document; empty
	// means {}.
	Input json.RawMessage
	// Hook is "", HookPre or HookPost: execute, pre_hook or post_hook.
	Hook string
	// Grants are the call's capabilities; the zero value grants only log and progress.
	Grants sandbox.Grants
	// Limits override the runner's defaults field by field.
	Limits task.Limits
	// HTTP, when set, carries the plugin's http_request calls (see
	// sandbox.WithHTTPTransport): a Fixture's Wrap, a Recorder's Wrap. Nil: the network,
	// under the grants.
	HTTP func(guarded sandbox.HTTPTransport) sandbox.HTTPTransport
	// Unmatched, with a Fixture in HTTP, is its Unmatched method, so that the outcome
	// lists the requests it could not answer.
	Unmatched func() []string
}

// Outcome is what a call produced.
type Outcome struct {
	// Result is the plugin's result document (null for a hook that returned 0); nil
	// when the call failed.
	Result json.RawMessage `json:"result,omitempty"`
	// Error is why the call failed: the sandbox's error (trap, timeout, refused input, …)
	// or the value of the result's "error" key, which fails a task too. Empty on success.
	Error string `json:"error,omitempty"`
	// Kind is the sandbox's failure kind (sandbox.Kind) when the sandbox failed the call,
	// "error_result" for a result with an "error" key, empty on success.
	Kind string `json:"kind,omitempty"`
	// Logs are the lines the call logged, in order.
	Logs []LogLine `json:"logs"`
	// Usage is what the call cost: duration, peak memory pages, bytes in and out, host
	// calls.
	Usage task.Usage `json:"usage"`
	// Unmatched lists the http requests the fixture did not answer ("METHOD URL").
	Unmatched []string `json:"unmatched_http,omitempty"`
}

// KindErrorResult is Outcome.Kind for a result with a top-level "error" key.
const KindErrorResult = "error_result"

// Failed reports whether the call failed, as a task would.
func (o *Outcome) Failed() bool { return o.Error != "" || o.Kind != "" }

// InvalidInput reports whether the input was refused by the plugin's input schema (or
// was not JSON): the plugin did not run.
func (o *Outcome) InvalidInput() bool { return o.Kind == string(sandbox.KindInput) }

// ErrNoSuchExport is the error of a call the target cannot make (execute on a hook-only
// module, a hook on a plain executor).
var ErrNoSuchExport = errors.New("the plugin cannot make this call")

// Call runs one call of t. An error is returned only when the call cannot be made (an
// unknown hook, an export the plugin lacks, the context ended before it started); what
// the plugin did, failures included, is in the Outcome.
func (r *Runner) Call(ctx context.Context, t *Target, c Call) (*Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	env := &callEnv{grants: c.Grants}
	if c.Grants.KV != nil {
		env.kv = memstore.New()
	}
	r.cur.Store(env)
	defer r.cur.Store(nil)
	if c.HTTP != nil {
		ctx = sandbox.WithHTTPTransport(ctx, c.HTTP)
	}
	logs := newLogCapture()
	out := &Outcome{}
	var err error
	switch c.Hook {
	case "":
		err = r.execute(ctx, t, c, logs, out)
	case HookPre, HookPost:
		err = r.callHook(ctx, t, c, logs, out)
	default:
		return nil, fmt.Errorf("hook %q: want %q or %q", c.Hook, HookPre, HookPost)
	}
	if err != nil {
		return nil, err
	}
	out.Logs = logs.lines()
	if c.Unmatched != nil {
		out.Unmatched = c.Unmatched()
	}
	return out, nil
}

func (r *Runner) execute(ctx context.Context, t *Target, c Call, logs *logCapture, out *Outcome) error {
	if t.exec == nil {
		return fmt.Errorf("%w: %s is a hook, not an executor: call one of its hooks (pre or post)", ErrNoSuchExport, t.Info.ID)
	}
	resp, err := t.exec.Execute(ctx, &executor.Request{
		Task: &task.Task{ID: "call", Name: t.Info.ID}, Inputs: c.Input, Limits: c.Limits, Logger: logs.log,
	})
	if resp != nil {
		out.Usage = resp.Usage
	}
	if err != nil {
		out.failed(err)
		return nil
	}
	out.Result = resp.Output
	out.checkErrorKey()
	return nil
}

func (r *Runner) callHook(ctx context.Context, t *Target, c Call, logs *logCapture, out *Outcome) error {
	if t.hook == nil {
		return fmt.Errorf("%w: %s is not a hook (it exports none of the hook functions)", ErrNoSuchExport, t.Info.ID)
	}
	limits := c.Limits
	if limits.TimeoutMS == 0 {
		limits.TimeoutMS = r.hookTimeout
	}
	res, err := t.hook.CallHook(ctx, &sandbox.HookCall{
		Export: c.Hook + "_hook", Input: c.Input, Limits: limits, Logger: logs.log, Usage: &out.Usage,
	})
	if err != nil {
		out.failed(err)
		return nil
	}
	if res == nil {
		res = json.RawMessage("null")
	}
	out.Result = res
	out.checkErrorKey()
	return nil
}

// failed records the sandbox's error.
func (o *Outcome) failed(err error) {
	o.Error, o.Kind = err.Error(), string(sandbox.KindOf(err))
	if o.Kind == "" {
		o.Kind = "error"
	}
}

// checkErrorKey fails an outcome whose result has a top-level "error" key, with the
// error text a task would get.
func (o *Outcome) checkErrorKey() {
	var m map[string]json.RawMessage
	if json.Unmarshal(o.Result, &m) != nil {
		return
	}
	raw, ok := m["error"]
	if !ok {
		return
	}
	o.Kind = KindErrorResult
	var v any
	if json.Unmarshal(raw, &v) != nil {
		v = string(raw)
	}
	o.Error = executor.ErrorText(v)
}
