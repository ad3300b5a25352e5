package apflow

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Error is a structured plugin error. Returned from a Run function (or a hook), it becomes
// the result {"error": Message, "code": Code, "details": Details}: the host marks the task
// failed with Message as the task's error, and the code and details stay in the result for
// whoever inspects it. Any other error becomes {"error": err.Error()}.
type Error struct {
	// Message is the human-readable message; it becomes the task's error.
	Message string
	// Code is a short machine-readable reason, e.g. "invalid_inputs", "http_status".
	Code string
	// Details is any JSON-encodable context (the field at fault, the HTTP status, …).
	Details any

	cause error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with a formatted message and no code. Wrapped errors (%w) are
// reachable with errors.Unwrap as usual.
func Errorf(format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Message: err.Error(), cause: errors.Unwrap(err)}
}

// NewError returns an *Error with a code, a message and optional details.
func NewError(code, message string, details any) *Error {
	return &Error{Message: message, Code: code, Details: details}
}

// Unwrap returns the error wrapped with %w by [Errorf], if any.
func (e *Error) Unwrap() error { return e.cause }

// WithCode returns e with its code set, for chaining: apflow.Errorf(…).WithCode("x").
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

// WithDetails returns e with its details set.
func (e *Error) WithDetails(details any) *Error { e.Details = details; return e }

// Codes the SDK itself uses.
const (
	// CodeInvalidInputs: the inputs did not decode into the executor's input type.
	CodeInvalidInputs = "invalid_inputs"
	// CodePanic: the Run function (or hook) panicked; the message carries the panic value.
	CodePanic = "panic"
	// CodeEncoding: the result could not be encoded as JSON.
	CodeEncoding = "result_encoding"
	// CodeNoExecutor: execute was called on a module that registered no executor.
	CodeNoExecutor = "no_executor"
)

type errorResult struct {
	Error   string `json:"error"`
	Code    string `json:"code,omitempty"`
	Details any    `json:"details,omitempty"`
}

// encodeError renders err as an ABI error result. It never fails: details that cannot be
// encoded are dropped and named in the message.
func encodeError(err error) []byte {
	r := errorResult{Error: err.Error()}
	var e *Error
	if errors.As(err, &e) {
		r.Code, r.Details = e.Code, e.Details
	}
	if r.Error == "" {
		r.Error = "error with an empty message"
	}
	b, mErr := json.Marshal(r)
	if mErr != nil {
		r.Details = nil
		r.Error += fmt.Sprintf(" (details dropped: %v)", mErr)
		b, _ = json.Marshal(r)
	}
	return b
}
