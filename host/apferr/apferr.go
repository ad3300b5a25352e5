// Package apferr holds the typed errors of the apflow protocol: an error code (docs/api.md,
// "JSON-RPC envelope": JSON-RPC 2.0 codes plus the -32001..-32012 application band), a message, and
// structured data naming the task and field concerned.
//
// Every layer returns these errors where a client must be able to tell failures apart; the
// API maps them to JSON-RPC error objects unchanged, the CLI prints them and exits 2 for an
// invalid submission. Wrap them freely with fmt.Errorf("...: %w", err): [As] finds them.
package apferr

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a JSON-RPC error code.
type Code int

// Error codes of JSON-RPC 2.0 and of the apflow protocol (docs/api.md, "JSON-RPC envelope").
const (
	ParseError             Code = -32700
	InvalidRequest         Code = -32600
	MethodNotFound         Code = -32601
	InvalidParams          Code = -32602
	Internal               Code = -32603
	TaskNotFound           Code = -32001
	CircularDependency     Code = -32002
	ExecutorNotFound       Code = -32003
	Unauthorized           Code = -32004
	InvalidTaskSchema      Code = -32005
	InvalidTransition      Code = -32006
	DependencyNotSatisfied Code = -32007
	AlreadyExecuting       Code = -32008
	CannotDelete           Code = -32009
	InvalidParent          Code = -32010
	InvalidDependency      Code = -32011
	TreeValidation         Code = -32012
)

var codeNames = map[Code]string{
	ParseError:             "Parse error",
	InvalidRequest:         "Invalid Request",
	MethodNotFound:         "Method not found",
	InvalidParams:          "Invalid params",
	Internal:               "Internal error",
	TaskNotFound:           "Task not found",
	CircularDependency:     "Circular dependency",
	ExecutorNotFound:       "Executor not found",
	Unauthorized:           "Unauthorized",
	InvalidTaskSchema:      "Invalid task schema",
	InvalidTransition:      "Invalid state transition",
	DependencyNotSatisfied: "Dependency not satisfied",
	AlreadyExecuting:       "Task already executing",
	CannotDelete:           "Cannot delete task",
	InvalidParent:          "Invalid parent reference",
	InvalidDependency:      "Invalid dependency reference",
	TreeValidation:         "Task tree validation failed",
}

// String returns the protocol's name for the code, e.g. "Task not found".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("error %d", int(c))
}

// Error is an apflow protocol error. Data is marshalled as the JSON-RPC error's data
// member; it is usually a map with keys such as task_id, field, reason, cycle or errors.
type Error struct {
	Code    Code
	Message string
	Data    any
}

// New returns an *Error with the given code and message.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithData returns e with Data set; it modifies and returns the receiver for chaining.
func (e *Error) WithData(data any) *Error { e.Data = data; return e }

// Error implements error.
func (e *Error) Error() string { return e.Message }

// As returns the first *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if e := As(err); e != nil {
		return e.Code
	}
	return Internal
}

// Problem is one finding of a validation: which task, which field, what is wrong. A
// submission that fails validation reports every Problem found in Error.Data["errors"].
type Problem struct {
	Code     Code     `json:"code"`
	TaskID   string   `json:"task_id,omitempty"`
	TaskName string   `json:"task_name,omitempty"`
	Index    *int     `json:"index,omitempty"` // position in the submitted array
	Field    string   `json:"field"`
	Reason   string   `json:"reason"`
	Expected any      `json:"expected,omitempty"`
	Actual   any      `json:"actual,omitempty"`
	Path     []string `json:"path,omitempty"`  // JSON pointer segments inside Field, for schema errors
	Cycle    []string `json:"cycle,omitempty"` // for CircularDependency: a -> b -> a
}

// String renders the problem for people: `task "fetch" (index 2): dependencies[0]: ...`.
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.TaskName != "" && p.TaskID != "" && p.TaskName != p.TaskID:
		fmt.Fprintf(&b, "task %q (id %s)", p.TaskName, p.TaskID)
	case p.TaskName != "":
		fmt.Fprintf(&b, "task %q", p.TaskName)
	case p.TaskID != "":
		fmt.Fprintf(&b, "task %s", p.TaskID)
	case p.Index != nil:
		fmt.Fprintf(&b, "task at index %d", *p.Index)
	default:
		b.WriteString("tree")
	}
	if p.Field != "" {
		fmt.Fprintf(&b, ": %s", p.Field)
	}
	fmt.Fprintf(&b, ": %s", p.Reason)
	if len(p.Cycle) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(p.Cycle, " -> "))
	}
	return b.String()
}

// Problems builds the error for a failed validation: its code is the code of the first
// problem, its message lists every problem (one per line after a summary), and Data is
// {"errors": problems}.
func Problems(problems []Problem) *Error { return ProblemsOf(problems, len(problems)) }

// ProblemsOf is Problems for a validation that found total problems and lists only some
// (the last of them may say how many are not listed): the summary counts them all.
func ProblemsOf(problems []Problem, total int) *Error {
	if len(problems) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "task tree validation failed: %d problem(s)", total)
	for _, p := range problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	data := map[string]any{"errors": problems}
	if len(problems[0].Cycle) > 0 {
		data["cycle"] = problems[0].Cycle
	}
	return &Error{Code: problems[0].Code, Message: b.String(), Data: data}
}

// InvalidParam is the -32602 error for one bad request parameter: its message names the
// field and the reason, and Data is {"field", "reason", "expected"?, "actual"?} (nil
// expected or actual are left out).
func InvalidParam(field, reason string, expected, actual any) *Error {
	data := map[string]any{"field": field, "reason": reason}
	if expected != nil {
		data["expected"] = expected
	}
	if actual != nil {
		data["actual"] = actual
	}
	msg := "Invalid params: " + reason
	if field != "" {
		msg = fmt.Sprintf("Invalid params: %s: %s", field, reason)
	}
	return New(InvalidParams, msg).WithData(data)
}
