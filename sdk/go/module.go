package apflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/apflow-wasm/apflow/sdk/go/internal/registry"
)

// Metadata is the get_metadata document (docs/abi.md). Kind is this SDK's additive
// extension: the roles the module plays, "executor" and/or "hook". Hosts that honour it
// treat a module as an executor or a hook by it instead of by its exports, which a Go
// module cannot vary (every Go plugin exports execute).
type Metadata struct {
	ID           string       `json:"id"`
	Name         string       `json:"name,omitempty"`
	Description  string       `json:"description,omitempty"`
	Version      string       `json:"version,omitempty"`
	Tags         []string     `json:"tags,omitempty"`
	Capabilities []string     `json:"capabilities,omitempty"`
	Retry        *RetryPolicy `json:"retry,omitempty"`
	Kind         []string     `json:"kind"`
}

// RetryPolicy is an executor's default retry policy, carried in its metadata (docs/retries.md):
// the host retries a failed attempt while attempts are left and RetryOn matches the
// failure. Zero fields are not set: the task's params.retry, then the operator's
// config, then the host's defaults decide them. The host checks the policy when it
// loads the module and refuses a module with an invalid one.
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included (1–100).
	MaxAttempts int `json:"max_attempts,omitempty"`
	// Backoff is the wait between attempts.
	Backoff *Backoff `json:"backoff,omitempty"`
	// RetryOn lists what is retried: "timeout", "trap", "error_result", "error",
	// "code:<code>" (an error result's code, see [Error]) or "match:<regexp>".
	RetryOn []string `json:"retry_on,omitempty"`
}

// Backoff is the wait after failed attempt n: InitialMS × Multiplier^(n−1), at most
// MaxMS, less up to Jitter of it at random. A nil field is not set; 0 is a valid
// InitialMS, MaxMS and Jitter, hence the pointers (Multiplier is at least 1).
type Backoff struct {
	InitialMS  *int64   `json:"initial_ms,omitempty"`
	Multiplier float64  `json:"multiplier,omitempty"`
	MaxMS      *int64   `json:"max_ms,omitempty"`
	Jitter     *float64 `json:"jitter,omitempty"` // a fraction, 0–1
}

// Module is a plugin module: at most one executor and at most one hook, and the exact
// behaviour of every ABI export minus the pointer glue. The wasm exports call the
// [Registered] module; tests call a Module directly (see package apflowtest).
// A Module is immutable and safe for concurrent use.
type Module struct {
	exec     *executorSpec
	hook     *Hook
	meta     Metadata
	metaJSON []byte
	hookConf []byte
}

// NewModule builds a module from an executor (an Executor[In, Out]) and a hook; either
// may be nil, not both. It fails when the executor is incomplete or a schema cannot be
// derived.
func NewModule(exec ExecutorSpec, hook *Hook) (*Module, error) {
	m := &Module{}
	if exec != nil {
		s, err := exec.spec()
		if err != nil {
			return nil, err
		}
		m.exec = s
		m.meta = s.meta
		m.meta.Kind = append(m.meta.Kind, "executor")
	}
	if hook != nil {
		h := *hook
		m.hook = &h
		if m.exec == nil {
			if h.ID == "" {
				return nil, fmt.Errorf("hook has no ID")
			}
			m.meta = Metadata{ID: h.ID, Name: h.Name, Description: h.Description, Version: h.Version}
		}
		for _, c := range h.Capabilities {
			if !slices.Contains(m.meta.Capabilities, c) {
				m.meta.Capabilities = append(slices.Clip(m.meta.Capabilities), c)
			}
		}
		switch points := h.implemented(); {
		case len(points) > 0:
			m.meta.Kind = append(m.meta.Kind, "hook")
			b, err := json.Marshal(hookConfig{Executors: h.Executors, Hooks: points})
			if err != nil {
				return nil, fmt.Errorf("hook config: %w", err)
			}
			m.hookConf = b
		case m.exec == nil:
			return nil, fmt.Errorf("hook %s sets none of Pre, Post, OnTreeCreated, OnTreeStarted, OnTreeCompleted, OnTreeFailed", m.meta.ID)
		default:
			m.hook = nil // beside an executor, a hook that sets nothing is no hook
		}
	}
	if m.exec == nil && m.hook == nil {
		return nil, fmt.Errorf("a module needs an executor or a hook")
	}
	b, err := json.Marshal(m.meta)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	m.metaJSON = b
	return m, nil
}

// Register makes exec the module's executor. Call it from an init function; it panics
// when the executor is invalid or another one is already registered, so that a broken
// plugin fails at load time with the reason in its output.
func Register(exec ExecutorSpec) {
	if _, err := exec.spec(); err != nil {
		panic("apflow.Register: " + err.Error())
	}
	if err := registry.SetExecutor(exec); err != nil {
		panic("apflow.Register: " + err.Error())
	}
}

var cache struct {
	sync.Mutex
	version int
	module  *Module
	err     error
}

// Registered returns the module made of what was registered with [Register] and
// hook.Register. It fails when nothing was registered.
func Registered() (*Module, error) {
	e, h, v := registry.Snapshot()
	cache.Lock()
	defer cache.Unlock()
	if cache.version == v && (cache.module != nil || cache.err != nil) {
		return cache.module, cache.err
	}
	var spec ExecutorSpec
	if e != nil {
		spec = e.(ExecutorSpec)
	}
	var hook *Hook
	if h != nil {
		hk := h.(Hook)
		hook = &hk
	}
	if spec == nil && hook == nil {
		cache.module, cache.err = nil, fmt.Errorf("the module registered nothing: call apflow.Register or hook.Register from an init function")
	} else {
		cache.module, cache.err = NewModule(spec, hook)
	}
	cache.version = v
	return cache.module, cache.err
}

// Metadata returns the module's metadata.
func (m *Module) Metadata() Metadata { return m.meta }

// MetadataJSON returns the get_metadata document.
func (m *Module) MetadataJSON() []byte { return m.metaJSON }

// InputSchema returns the get_input_schema document, or nil (packed 0: "accepts
// anything") for a module without an executor.
func (m *Module) InputSchema() []byte {
	if m.exec == nil {
		return nil
	}
	return m.exec.inputSchema
}

// OutputSchema returns the get_output_schema document, or nil for a module without an
// executor.
func (m *Module) OutputSchema() []byte {
	if m.exec == nil {
		return nil
	}
	return m.exec.outputSchema
}

// HookConfig returns the get_hook_config document (the hook functions the hook sets,
// and the executors it runs around when it names some), or nil when there is no hook.
func (m *Module) HookConfig() []byte { return m.hookConf }

// HasExecutor and HasHook report the module's roles.
func (m *Module) HasExecutor() bool { return m.exec != nil }

// HasHook reports whether the module registered a hook.
func (m *Module) HasHook() bool { return m.hook != nil }

// Execute is the execute export: it decodes input into the executor's input type, runs
// it with a [Context] backed by host, and returns the result document — the JSON encoding
// of the output, or an {"error": …} object for an error, a panic, undecodable inputs or an
// unencodable output. It never panics, and returns valid JSON unless the output is a
// json.RawMessage that is not: that one is returned as is (Executor).
func (m *Module) Execute(host Host, input []byte) []byte {
	if m.exec == nil {
		return encodeError(NewError(CodeNoExecutor, "this module registered no executor (it is a hook module)", nil))
	}
	ctx := NewContext(host)
	out, err := protect(ctx, func() (any, error) { return m.exec.run(ctx, input) })
	if err != nil {
		return encodeError(err)
	}
	if raw, ok := out.(json.RawMessage); ok && len(raw) > 0 {
		return raw // as is: the host checks that it is JSON (Executor's doc)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return encodeError(NewError(CodeEncoding, "encode result: "+err.Error(), nil))
	}
	return b
}

// CallHook is the export of hook point p. It returns nil ("nothing": no change) when the
// module has no hook or the hook has no callback for p, {"inputs": …} when a pre-hook
// replaced the inputs, {} after a callback that succeeded, and {"error": …} otherwise.
func (m *Module) CallHook(host Host, p HookPoint, input []byte) []byte {
	if m.hook == nil {
		return nil
	}
	h := m.hook
	var call func(ctx *Context, in *hookInput) (any, error)
	switch p {
	case PreHook:
		if h.Pre == nil {
			return nil
		}
		call = func(ctx *Context, in *hookInput) (any, error) {
			inputs, err := h.Pre(ctx, in.Task, in.Inputs)
			if err != nil || inputs == nil {
				return nil, err
			}
			return map[string]any{"inputs": inputs}, nil
		}
	case PostHook:
		if h.Post == nil {
			return nil
		}
		call = func(ctx *Context, in *hookInput) (any, error) {
			return nil, h.Post(ctx, in.Task, in.Inputs, in.Result)
		}
	case OnTreeCreated:
		if h.OnTreeCreated == nil {
			return nil
		}
		call = func(ctx *Context, in *hookInput) (any, error) {
			if in.Tree == nil {
				in.Tree = &TreeNode{Task: in.Root}
			}
			return nil, h.OnTreeCreated(ctx, in.Root, in.Tree)
		}
	case OnTreeStarted:
		if h.OnTreeStarted == nil {
			return nil
		}
		call = func(ctx *Context, in *hookInput) (any, error) { return nil, h.OnTreeStarted(ctx, in.Root) }
	case OnTreeCompleted:
		if h.OnTreeCompleted == nil {
			return nil
		}
		call = func(ctx *Context, in *hookInput) (any, error) { return nil, h.OnTreeCompleted(ctx, in.Root) }
	case OnTreeFailed:
		if h.OnTreeFailed == nil {
			return nil
		}
		call = func(ctx *Context, in *hookInput) (any, error) {
			return nil, h.OnTreeFailed(ctx, in.Root, in.Message)
		}
	default:
		return encodeError(fmt.Errorf("unknown hook point %q", p))
	}
	in := &hookInput{}
	if len(bytes.TrimSpace(input)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(input))
		dec.UseNumber()
		if err := dec.Decode(in); err != nil {
			return encodeError(NewError(CodeInvalidInputs, fmt.Sprintf("%s: invalid input: %v", p, err), nil))
		}
	}
	if in.Task == nil {
		in.Task = &Task{}
	}
	if in.Root == nil {
		in.Root = &Task{}
	}
	ctx := NewContext(host)
	out, err := protect(ctx, func() (any, error) { return call(ctx, in) })
	if err != nil {
		return encodeError(err)
	}
	if out == nil {
		return emptyObject
	}
	b, err := json.Marshal(out)
	if err != nil {
		return encodeError(NewError(CodeEncoding, fmt.Sprintf("%s: encode result: %v", p, err), nil))
	}
	return b
}

// protect runs fn and turns a panic into an *Error with code "panic"; the stack goes to
// the task's log at error level, one line of the message after the other (as a field
// it would be quoted onto one line, its line breaks escaped).
func protect(ctx *Context, fn func() (any, error)) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			ctx.Log.Error(fmt.Sprintf("panic: %v\n%s", r, strings.TrimRight(string(debug.Stack()), "\n")))
			out, err = nil, NewError(CodePanic, fmt.Sprintf("panic: %v", r), nil)
		}
	}()
	return fn()
}
