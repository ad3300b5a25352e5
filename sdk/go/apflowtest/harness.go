package apflowtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/apflow-wasm/apflow/host/schema"
	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// Harness executes one module against a fake [Host].
type Harness struct {
	// Module is the module under test.
	Module *apflow.Module
	// Host is the fake host; configure it before executing.
	Host *Host

	t      testing.TB
	input  *schema.Schema
	output *schema.Schema
}

// New returns a harness for the module registered by the package's init functions (in a
// plugin's main package test, that is the plugin itself). It fails the test when nothing
// was registered or a schema does not compile.
func New(t testing.TB) *Harness {
	t.Helper()
	m, err := apflow.Registered()
	if err != nil {
		t.Fatalf("apflowtest: %v", err)
	}
	return For(t, m)
}

// For returns a harness for m.
func For(t testing.TB, m *apflow.Module) *Harness {
	t.Helper()
	h := &Harness{Module: m, Host: &Host{}, t: t}
	var err error
	if h.input, err = CompileSchema(m.InputSchema()); err != nil {
		t.Fatalf("apflowtest: input schema of %q: %v", m.Metadata().ID, err)
	}
	if h.output, err = CompileSchema(m.OutputSchema()); err != nil {
		t.Fatalf("apflowtest: output schema of %q: %v", m.Metadata().ID, err)
	}
	return h
}

// CompileSchema compiles a schema document with the host's own code (draft from
// $schema, 2020-12 by default, no external references). nil or empty accepts anything.
func CompileSchema(doc []byte) (*schema.Schema, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	return schema.Compile("schema", doc, schema.Draft2020)
}

// ValidateInputs checks inputs (any JSON-encodable value) against the input schema.
func (h *Harness) ValidateInputs(inputs any) error {
	v, err := roundTrip(inputs)
	if err != nil {
		return err
	}
	if h.input == nil {
		return nil
	}
	return h.input.Validate(v)
}

// Execute validates inputs against the input schema (failing the test if they do not
// match, as the host would refuse to run the task), executes the module, and, when the
// result is not an error, validates it against the output schema (failing the test on a
// mismatch: the plugin's schema lies about its output).
func (h *Harness) Execute(inputs any) *Result {
	h.t.Helper()
	if err := h.ValidateInputs(inputs); err != nil {
		h.t.Fatalf("apflowtest: inputs of %q do not match its input schema: %v", h.Module.Metadata().ID, err)
	}
	raw, err := json.Marshal(inputs)
	if err != nil {
		h.t.Fatalf("apflowtest: encode inputs: %v", err)
	}
	res := h.ExecuteRaw(raw)
	if !res.Failed() && h.output != nil {
		v, err := roundTrip(json.RawMessage(res.Raw))
		if err != nil {
			h.t.Fatalf("apflowtest: result of %q: %v", h.Module.Metadata().ID, err)
		}
		if err := h.output.Validate(v); err != nil {
			h.t.Errorf("apflowtest: result of %q does not match its output schema: %v\nresult: %s",
				h.Module.Metadata().ID, err, res.Raw)
		}
	}
	return res
}

// ExecuteRaw executes the module with raw input bytes, without any validation, and fails
// the test if the result is not valid JSON (the host would fail the task).
func (h *Harness) ExecuteRaw(input []byte) *Result {
	h.t.Helper()
	out := h.Module.Execute(h.Host, input)
	if !json.Valid(out) {
		h.t.Fatalf("apflowtest: %q returned invalid JSON: %q", h.Module.Metadata().ID, out)
	}
	return &Result{Raw: out}
}

// Hook calls the module's hook export p with input (any JSON-encodable value). A nil
// result means "nothing" (packed 0).
func (h *Harness) Hook(p apflow.HookPoint, input any) *Result {
	h.t.Helper()
	raw, err := json.Marshal(input)
	if err != nil {
		h.t.Fatalf("apflowtest: encode hook input: %v", err)
	}
	out := h.Module.CallHook(h.Host, p, raw)
	if out == nil {
		return nil
	}
	if !json.Valid(out) {
		h.t.Fatalf("apflowtest: hook %s returned invalid JSON: %q", p, out)
	}
	return &Result{Raw: out}
}

func roundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return out, nil
}

// Result is a result document.
type Result struct {
	// Raw is the document exactly as the export returned it.
	Raw []byte
}

// Failed reports whether the result marks the task failed: an object with an "error" key.
func (r *Result) Failed() bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(r.Raw, &obj) != nil {
		return false
	}
	_, ok := obj["error"]
	return ok
}

// Error returns the error message of a failed result ("" otherwise), rendered as the host
// renders it: a string as is, anything else as JSON.
func (r *Result) Error() string {
	var obj map[string]json.RawMessage
	if json.Unmarshal(r.Raw, &obj) != nil {
		return ""
	}
	e, ok := obj["error"]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(e, &s) == nil {
		return s
	}
	return string(e)
}

// Code returns the "code" of a failed result produced from an *apflow.Error.
func (r *Result) Code() string {
	var obj struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Raw, &obj)
	return obj.Code
}

// Decode decodes the result into v.
func (r *Result) Decode(v any) error { return json.Unmarshal(r.Raw, v) }

// Value returns the decoded result (numbers as float64).
func (r *Result) Value() any {
	var v any
	_ = json.Unmarshal(r.Raw, &v)
	return v
}

// String returns the raw document.
func (r *Result) String() string { return string(r.Raw) }
