package retry

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Kind classifies a failed attempt for retry_on.
type Kind string

// Kinds of [Failure].
const (
	// KindTimeout: the attempt exceeded its wall-time limit.
	KindTimeout Kind = "timeout"
	// KindTrap: the plugin crashed: a trap, a stack overflow, memory exhausted, an exit
	// or a panic.
	KindTrap Kind = "trap"
	// KindErrorResult: the executor returned a result with an "error" key.
	KindErrorResult Kind = "error_result"
	// KindError: any other failure of the executor call (a built-in executor's error,
	// a sandbox that could not be set up, an executor panic in the host).
	KindError Kind = "error"
	// KindPermanent: a failure another attempt cannot change; never retried.
	KindPermanent Kind = "permanent"
)

// Failure describes a failed attempt.
type Failure struct {
	Kind    Kind
	Code    string // the error code an error result carries ("" when none)
	Message string // the task's error text
}

// kinder is implemented by errors that know their failure kind (sandbox.Error).
type kinder interface{ FailureKind() string }

// Classify maps the error of an executor call to its failure kind: the kind an error
// in the chain reports (FailureKind, the sandbox's kinds), else KindError.
func Classify(err error) Kind {
	var k kinder
	if !errors.As(err, &k) {
		return KindError
	}
	switch k.FailureKind() {
	case "timeout":
		return KindTimeout
	case "trap", "stack_overflow", "out_of_memory", "exit", "panic":
		return KindTrap
	case "invalid_input", "bad_result", "invalid_module", "cancelled":
		return KindPermanent
	default:
		return KindError
	}
}

// CodeOf returns the error code of an error result: its "code" member, else the
// "code" member of its "error" object; strings as they are, numbers as written.
func CodeOf(result any) string {
	m, ok := result.(map[string]any)
	if !ok {
		return ""
	}
	if c := codeText(m["code"]); c != "" {
		return c
	}
	if e, ok := m["error"].(map[string]any); ok {
		return codeText(e["code"])
	}
	return ""
}

func codeText(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case json.Number:
		return c.String()
	case float64:
		return fmt.Sprint(c)
	}
	return ""
}
