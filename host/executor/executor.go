// Package executor is the contract between the engine, which decides when a task runs,
// and the things that run it: built-in executors and WASM plugins.
//
// An [Executor] runs one task's inputs to a JSON result. A [Catalog] maps executor ids
// (schemas.method) to executors and describes them ([Info]: metadata and schemas); the
// engine and submission validation only ever see these two interfaces, so the WASM runtime,
// the built-ins and test doubles are interchangeable.
//
// Hot-load guarantee: a [Handle] obtained from [Catalog.Lookup] keeps working, on the same
// module version, until it is released, even if the method is re-registered or removed
// meanwhile. The engine holds one handle per running task.
package executor

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/retry"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/task"
)

// Request is what an executor gets for one execution.
type Request struct {
	// Task is a snapshot of the task being run. Executors must not modify it.
	Task *task.Task
	// Inputs is the task's inputs after dependency injection and pre-hooks, as a JSON object.
	Inputs json.RawMessage
	// Validated is true when the caller has already validated Inputs against the
	// Info().Compiled of the handle it executes with (the engine does, after pre-hooks,
	// together with the task's own schemas.input_schema). An executor then does not
	// validate them again; with false, an executor that has an input schema validates
	// Inputs against it before running. Setting it without validating lets inputs the
	// schema refuses reach the executor.
	Validated bool
	// Limits are the effective sandbox limits (task overrides merged over operator defaults).
	Limits task.Limits
	// Progress reports the task's progress, 0..1. It may be nil.
	Progress func(float64)
	// Logger receives the executor's log lines, already tagged with task id and plugin.
	Logger hclog.Logger
}

// Response is what an execution produced.
type Response struct {
	// Output is the JSON result. An object with a top-level "error" key marks the task failed.
	Output json.RawMessage
	// Plugin is the content hash of the module that ran, empty for built-ins.
	Plugin string
	// Usage is the cost of the execution.
	Usage task.Usage
}

// Executor runs tasks. Execute must honour ctx: when ctx is done (cancel, timeout) it
// returns promptly with an error. Unless req.Validated, Execute validates req.Inputs
// against its Info().Compiled input schema (if any) before running. A returned error
// (trap, timeout, memory limit, malformed result, refused inputs) marks the task failed
// with err.Error() as the task's error, so the message must say what happened in words
// a task author can act on.
type Executor interface {
	Execute(ctx context.Context, req *Request) (*Response, error)
}

// Info describes a registered executor.
type Info struct {
	ID          string   `json:"id"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Version     string   `json:"version,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	// Kind is "builtin" or "wasm" (or "hook" for hook modules).
	Kind string `json:"kind"`
	// Hash is the sha256 of the module, hex; empty for built-ins.
	Hash string `json:"hash,omitempty"`
	// InputSchema and OutputSchema are the JSON Schemas the executor reports (null if none).
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
	// Capabilities are the capabilities the module asks for in its metadata.
	Capabilities []string `json:"capabilities,omitempty"`
	// Retry is the executor's default retry policy (its metadata's "retry"), which a
	// task's params.retry overrides field by field; nil when it sets none.
	Retry *retry.Spec `json:"retry,omitempty"`
	// Compiled is InputSchema compiled; nil when the executor has no input schema.
	Compiled *schema.Schema `json:"-"`
}

// Handle is a looked-up executor pinned to one version. Release must be called exactly
// once when the caller is done with it.
type Handle interface {
	Executor
	Info() *Info
	Release()
}

// Catalog resolves executor ids.
type Catalog interface {
	// Lookup returns the executor registered under id now, or an error for which
	// apferr.CodeOf is ExecutorNotFound.
	Lookup(id string) (Handle, error)
	// List describes every registered executor, sorted by id.
	List() []*Info
}

// NotFound returns the error Lookup returns for an unknown id.
func NotFound(id string) error {
	return apferr.New(apferr.ExecutorNotFound, fmt.Sprintf("executor %q is not registered", id)).
		WithData(map[string]any{"field": "schemas.method", "executor": id})
}

// ErrorText is the task error that the value of a result's "error" key stands for (an
// executor reports a failure by returning {"error": ...}): the string itself, or the
// value as JSON; an empty or null error is named as such, never an empty error.
func ErrorText(v any) string {
	switch x := v.(type) {
	case string:
		if x != "" {
			return x
		}
		return "executor returned an empty error"
	case nil:
		return "executor returned an error object with a null error"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}
