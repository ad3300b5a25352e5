package apflow

import "encoding/json"

// Hook describes a hook module's callbacks (docs/abi.md, "Hook exports"). Register it with
// hook.Register from package github.com/apflow-wasm/apflow/sdk/go/hook, which also links
// the hook exports into the module. Nil callbacks are not called: their export answers
// "nothing", which the host reads as "no change".
//
// A callback that returns an error (or panics) produces a hook failure: the host logs it
// and records it in the task's hook_errors; it never changes the task's status.
type Hook struct {
	// ID, Name, Description and Version describe a hook-only module (a module that also
	// registers an executor takes its metadata from the executor).
	ID          string
	Name        string
	Description string
	Version     string
	// Capabilities are what the hook asks for, e.g. "repository" for [Context.Store].
	Capabilities []string
	// Executors, when not empty, limits the task hooks to tasks of these executor ids
	// (exported as get_hook_config). Tree hooks are not affected.
	Executors []string

	// Pre runs before a task's executor, after dependency injection. Returning a non-nil
	// map replaces the task's inputs (the host persists them); nil leaves them unchanged.
	Pre func(ctx *Context, task *Task, inputs map[string]any) (map[string]any, error)
	// Post runs after a task completed, with its inputs and result.
	Post func(ctx *Context, task *Task, inputs map[string]any, result any) error
	// OnTreeCreated runs when a tree has been submitted.
	OnTreeCreated func(ctx *Context, root *Task, tree *TreeNode) error
	// OnTreeStarted runs when a tree run starts.
	OnTreeStarted func(ctx *Context, root *Task) error
	// OnTreeCompleted runs when a tree run ends with the root completed.
	OnTreeCompleted func(ctx *Context, root *Task) error
	// OnTreeFailed runs when a tree run ends with the root failed; message says why.
	OnTreeFailed func(ctx *Context, root *Task, message string) error
}

// HookPoint names a hook export.
type HookPoint string

// The hook exports of ABI v1.
const (
	PreHook         HookPoint = "pre_hook"
	PostHook        HookPoint = "post_hook"
	OnTreeCreated   HookPoint = "on_tree_created"
	OnTreeStarted   HookPoint = "on_tree_started"
	OnTreeCompleted HookPoint = "on_tree_completed"
	OnTreeFailed    HookPoint = "on_tree_failed"
)

// HookPoints lists every hook point, in ABI order.
var HookPoints = []HookPoint{PreHook, PostHook, OnTreeCreated, OnTreeStarted, OnTreeCompleted, OnTreeFailed}

// Dependency is one entry of a task's dependencies.
type Dependency struct {
	ID       string `json:"id"`
	Required bool   `json:"required"`
}

// Task is the wire form of a task as hooks and the store see it (the fields a plugin
// typically needs; others are ignored). JSON numbers in Inputs, Params, Schemas and
// Result are json.Number, so integers survive a round trip unchanged.
type Task struct {
	ID           string         `json:"id"`
	ParentID     *string        `json:"parent_id"`
	TaskTreeID   *string        `json:"task_tree_id"`
	UserID       *string        `json:"user_id"`
	Name         string         `json:"name"`
	Status       string         `json:"status"`
	Priority     int            `json:"priority"`
	Dependencies []Dependency   `json:"dependencies"`
	Inputs       map[string]any `json:"inputs"`
	Params       map[string]any `json:"params"`
	Schemas      map[string]any `json:"schemas"`
	Result       any            `json:"result"`
	Error        *string        `json:"error"`
	Progress     float64        `json:"progress"`
	Plugin       *string        `json:"plugin"`
	Attempts     int            `json:"attempts"`
	HookErrors   []string       `json:"hook_errors"`
	// CreatedAt, StartedAt and CompletedAt are wire timestamps (ISO-8601, UTC), nil when
	// unset; Usage is the cost of the last execution (set once the task ran).
	CreatedAt   *string    `json:"created_at"`
	StartedAt   *string    `json:"started_at"`
	CompletedAt *string    `json:"completed_at"`
	Usage       *TaskUsage `json:"usage"`
}

// TaskUsage is what one execution of a task cost (the task's "usage" field).
type TaskUsage struct {
	DurationMS      float64 `json:"duration_ms"`
	PeakMemoryPages uint32  `json:"peak_memory_pages,omitempty"`
	HostCalls       int64   `json:"host_calls,omitempty"`
	BytesIn         int64   `json:"bytes_in,omitempty"`
	BytesOut        int64   `json:"bytes_out,omitempty"`
	LLMInputTokens  int64   `json:"llm_input_tokens,omitempty"`
	LLMOutputTokens int64   `json:"llm_output_tokens,omitempty"`
}

// Method returns the task's executor id: params.executor_id if set, else schemas.method.
func (t *Task) Method() string {
	if s, ok := t.Params["executor_id"].(string); ok && s != "" {
		return s
	}
	if s, ok := t.Schemas["method"].(string); ok {
		return s
	}
	return ""
}

// TreeNode is the wire form of a task tree.
type TreeNode struct {
	Task     *Task       `json:"task"`
	Children []*TreeNode `json:"children"`
}

// hookConfig is the get_hook_config document. Hooks lists the hook functions h
// implements: package hook exports all six, and the host calls only these.
type hookConfig struct {
	Executors []string    `json:"executors,omitempty"`
	Hooks     []HookPoint `json:"hooks"`
}

// implemented lists the hook functions h sets, in ABI order.
func (h *Hook) implemented() []HookPoint {
	var out []HookPoint
	for _, f := range []struct {
		p   HookPoint
		set bool
	}{
		{PreHook, h.Pre != nil}, {PostHook, h.Post != nil}, {OnTreeCreated, h.OnTreeCreated != nil},
		{OnTreeStarted, h.OnTreeStarted != nil}, {OnTreeCompleted, h.OnTreeCompleted != nil}, {OnTreeFailed, h.OnTreeFailed != nil},
	} {
		if f.set {
			out = append(out, f.p)
		}
	}
	return out
}

// hookInput is the union of every hook export's input document.
type hookInput struct {
	Task    *Task          `json:"task"`
	Inputs  map[string]any `json:"inputs"`
	Result  any            `json:"result"`
	Root    *Task          `json:"root"`
	Tree    *TreeNode      `json:"tree"`
	Status  string         `json:"status"`
	Message string         `json:"message"`
}

var emptyObject = json.RawMessage(`{}`)
