package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Draft is the dialect of a schema that does not name one with "$schema".
type Draft int

// Drafts a caller may choose as the default.
const (
	// Draft7 is the protocol's draft: tasks' schemas.input_schema and the API's params.
	Draft7 Draft = 7
	// Draft2020 is draft 2020-12: plugins' input schemas and the config file.
	Draft2020 Draft = 2020
)

func (d Draft) library() (*jsonschema.Draft, error) {
	switch d {
	case Draft7:
		return jsonschema.Draft7, nil
	case Draft2020:
		return jsonschema.Draft2020, nil
	}
	return nil, fmt.Errorf("unknown default draft %d", int(d))
}

// Schema is a compiled JSON Schema. It is immutable and safe for concurrent use.
type Schema struct {
	s           *jsonschema.Schema
	anyObject   bool // acceptsEveryObject
	validations atomic.Int64
}

// url is the address a document is compiled under: one compiler per document, so it
// never clashes, and it is replaced by the caller's name in error messages.
const url = "mem:///schema.json"

// Compile compiles doc, a JSON Schema document (an object or a boolean). name says what
// the document is in error messages ("input_schema", "config.schema.json"). A schema
// without "$schema" is read in draft d. A $ref to anything outside doc is a compile
// error (see the package documentation).
func Compile(name string, doc []byte, d Draft) (s *Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%s: schema compiler failed: %v", name, r)
		}
	}()
	draft, err := d.library()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.Draft = draft
	c.LoadURL = func(ref string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("$ref to %q: a schema must be self-contained and may not reference other documents",
			strings.TrimPrefix(ref, "mem:///"))
	}
	var compiled *jsonschema.Schema
	if err = c.AddResource(url, bytes.NewReader(doc)); err == nil {
		compiled, err = c.Compile(url)
	}
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), url, name)
		return nil, errors.New(strings.ReplaceAll(msg, "mem:///", ""))
	}
	return &Schema{s: compiled, anyObject: acceptsEveryObject(doc)}, nil
}

// MustCompile is Compile for schemas built into the host; it panics on error, which
// the owning package's tests catch.
func MustCompile(name string, doc []byte, d Draft) *Schema {
	s, err := Compile(name, doc, d)
	if err != nil {
		panic(err)
	}
	return s
}

// Validate checks v, a decoded JSON value (numbers as json.Number or float64), against
// s. An object against a schema every object satisfies (AcceptsEveryObject) passes
// without running the validator. It returns nil, an *Error when v does not satisfy s, or another error when the
// validator itself failed (an infinite $ref loop, a value that is not JSON).
func (s *Schema) Validate(v any) (err error) {
	if _, ok := v.(map[string]any); ok && s.anyObject {
		return nil // nothing an object can fail (AcceptsEveryObject)
	}
	s.validations.Add(1)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("schema validator failed: %v", r)
		}
	}()
	err = s.s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		return &Error{root: ve, schema: s.s}
	}
	return err
}

// ValidateJSON decodes raw (numbers kept exact) and validates it like Validate. raw
// that is not one JSON value is an error, not an *Error.
func (s *Schema) ValidateJSON(raw []byte) error {
	v, err := Decode(raw)
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// AcceptsEveryObject reports whether every JSON object satisfies s, as a schema of only
// {"type": "object"} and annotations does: a caller checking an object against s may skip
// decoding it. It is conservative: false means only that the validator must decide.
func (s *Schema) AcceptsEveryObject() bool { return s.anyObject }

// Validations reports how many times Validate has run on s, for tests and metrics.
func (s *Schema) Validations() int64 { return s.validations.Load() }
