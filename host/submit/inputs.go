package submit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// schemaIssue is one reason why inputs fail a schema.
type schemaIssue struct {
	path    []string // JSON pointer segments inside inputs
	message string
}

// checkInputs validates inputs against s. When lenient (the task has dependencies),
// missing required top-level keys are not issues: dependency injection may supply them,
// and the engine validates again after injection. A failing anyOf/oneOf passes when one
// of its alternatives fails only for such keys.
func checkInputs(s *jsonschema.Schema, inputs map[string]any, lenient bool) (issues []schemaIssue, err error) {
	defer func() {
		if r := recover(); r != nil { // the validator is third-party code fed client schemas
			issues, err = nil, fmt.Errorf("schema validator failed: %v", r)
		}
	}()
	var v any = inputs
	if inputs == nil {
		v = map[string]any{}
	}
	err = s.Validate(v)
	if err == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, err
	}
	var out []schemaIssue
	for _, leaf := range leaves(ve, lenient) {
		out = append(out, schemaIssue{path: pointerSegments(leaf.InstanceLocation), message: leaf.Message})
	}
	return out, nil
}

// leaves returns the failures under ve that count, ignoring those lenient mode forgives.
// Depth is bounded by the schema's nesting, which the submission's depth limit bounds.
func leaves(ve *jsonschema.ValidationError, lenient bool) []*jsonschema.ValidationError {
	out, _ := walk(ve, lenient)
	return out
}

// walk returns the counting leaves of ve and whether ve as a whole is forgiven.
func walk(ve *jsonschema.ValidationError, lenient bool) ([]*jsonschema.ValidationError, bool) {
	kw := lastSegment(ve.KeywordLocation)
	if len(ve.Causes) == 0 {
		if lenient && kw == "required" && ve.InstanceLocation == "" {
			return nil, true
		}
		return []*jsonschema.ValidationError{ve}, false
	}
	var out []*jsonschema.ValidationError
	all, any := true, false
	for _, c := range ve.Causes {
		ls, ok := walk(c, lenient)
		out = append(out, ls...)
		all = all && ok
		any = any || ok
	}
	if all || ((kw == "anyOf" || kw == "oneOf") && any) {
		return nil, true
	}
	return out, false
}

func lastSegment(ptr string) string {
	if i := strings.LastIndexByte(ptr, '/'); i >= 0 {
		return ptr[i+1:]
	}
	return ptr
}

// pointerSegments splits a JSON pointer into unescaped segments.
func pointerSegments(ptr string) []string {
	ptr = strings.TrimPrefix(ptr, "/")
	if ptr == "" {
		return nil
	}
	segs := strings.Split(ptr, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs
}

// schemaCompiler compiles task-level input schemas, caching by content so a tree of
// many tasks sharing one schema compiles it once. It never loads anything from outside:
// $ref may only point inside the schema itself.
type schemaCompiler struct {
	cache map[string]compiled
}

type compiled struct {
	schema *jsonschema.Schema
	err    error
}

func newSchemaCompiler() *schemaCompiler { return &schemaCompiler{cache: map[string]compiled{}} }

func (sc *schemaCompiler) compile(doc any) (s *jsonschema.Schema, err error) {
	defer func() {
		if r := recover(); r != nil { // the compiler is third-party code fed client schemas
			s, err = nil, fmt.Errorf("schema compiler failed: %v", r)
		}
	}()
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the schema: %w", err)
	}
	key := string(raw)
	if c, ok := sc.cache[key]; ok {
		return c.schema, c.err
	}
	const url = "mem:///input_schema.json" // one compiler per schema: no clashes
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft7 // the protocol's draft when $schema is absent
	c.LoadURL = func(s string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("$ref to %q: input schemas may not reference other documents", s)
	}
	if err = c.AddResource(url, bytes.NewReader(raw)); err == nil {
		s, err = c.Compile(url)
	}
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), url, "input_schema")
		err = errors.New(strings.ReplaceAll(msg, "mem:///", ""))
	}
	sc.cache[key] = compiled{s, err}
	return s, err
}
