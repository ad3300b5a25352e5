package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/sandbox"
)

// Error is the failure of one hook call. Its message names the hook and the export and
// says what happened: "hook loop pre_hook: timed out after 2s", "hook audit is not
// loaded", "hook check post_hook: returned error: user_id is required".
type Error struct {
	Hook   string       // hook id
	Export string       // hook export ("" when the hook is not loaded)
	Kind   sandbox.Kind // sandbox failure kind, "" for failures the hook reported or a malformed result
	Msg    string       // the whole message
	Err    error        // underlying error, if any
}

// Error implements error.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// hookErr builds an *Error for hook id's export.
func hookErr(id, export string, err error, format string, args ...any) *Error {
	return &Error{Hook: id, Export: export, Msg: fmt.Sprintf("hook %s %s: ", id, export) + fmt.Sprintf(format, args...), Err: err}
}

// call calls export of the pinned hook h with input and returns its result document
// (nil for "nothing"), already checked to be a JSON object without an "error" key.
func (r *Runner) call(ctx context.Context, id string, h *registry.HookHandle, export string, input any, logger hclog.Logger) (map[string]json.RawMessage, error) {
	doc, err := encodeInput(input)
	if err != nil {
		return nil, hookErr(id, export, err, "cannot encode the input: %v", err)
	}
	hc := &sandbox.HookCall{Export: export, Input: doc, Limits: r.limits, Logger: logger}
	if r.repo != nil {
		hc.Repository = r.repo
	}
	out, err := h.CallHook(ctx, hc)
	if err != nil {
		var se *sandbox.Error
		if errors.As(err, &se) {
			e := hookErr(id, export, err, "%s", se.Msg)
			e.Kind = se.Kind
			return nil, e
		}
		return nil, hookErr(id, export, err, "%v", err)
	}
	return parseResult(id, export, out)
}

// appender is an input document that writes itself: the task hooks' inputs, sent for
// every task, which json.Marshal would encode and then scan again byte by byte (it
// checks and compacts what a Marshaler returns), half the cost of their encoding.
type appender interface {
	appendJSON(b []byte) ([]byte, error)
}

// encodeInput returns input's JSON document.
func encodeInput(input any) ([]byte, error) {
	if a, ok := input.(appender); ok {
		return a.appendJSON(make([]byte, 0, 1024))
	}
	return json.Marshal(input)
}

// parseResult checks a hook's result: nothing, null and {} are "no change"; an object
// with an "error" key is the hook's failure; anything but an object is malformed.
func parseResult(id, export string, out []byte) (map[string]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if trimmed[0] != '{' {
		return nil, hookErr(id, export, nil, "result must be a JSON object, got %s", preview(trimmed))
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &doc); err != nil {
		return nil, hookErr(id, export, err, "result is not valid JSON: %v", err)
	}
	if raw, ok := doc["error"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return nil, hookErr(id, export, nil, "returned error: %s", s)
		}
		return nil, hookErr(id, export, nil, "returned error: %s", preview(raw))
	}
	return doc, nil
}

// decodeInputs decodes the "inputs" member of a pre-hook result (numbers as json.Number,
// like every task document).
func decodeInputs(raw json.RawMessage) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("\"inputs\" must be an object, got %s", preview(raw))
	}
	return m, nil
}

// runsAround reports whether hook h's task hooks apply to a task of executor method.
func runsAround(h *registry.HookHandle, method string) bool {
	only := h.HookExecutors()
	return len(only) == 0 || slices.Contains(only, method)
}

// has reports whether h exports export.
func has(h *registry.HookHandle, export string) bool {
	return slices.Contains(h.HookExports(), export)
}

// preview returns the start of b for an error message.
func preview(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
