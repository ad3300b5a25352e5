package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Problem is one reason why a document fails a schema: a leaf of the validator's tree
// of failures.
type Problem struct {
	// Path is the failing value's location in the document, as unescaped JSON pointer
	// segments; empty for the document itself.
	Path []string
	// Keyword is the schema keyword that failed ("required", "type", "anyOf", …).
	Keyword string
	// Message is the validator's reason, e.g. "expected string, but got number" or
	// "missing properties: 'x'".
	Message string
}

// Field is the failing value's location as a dotted field under root: Field("inputs")
// of ["a", "b"] is "inputs.a.b", of [] is "inputs"; Field("") of [] is "".
func (p Problem) Field(root string) string {
	parts := p.Path
	if root != "" {
		parts = append([]string{root}, parts...)
	}
	return strings.Join(parts, ".")
}

// Property is the property a "required", "additionalProperties" or "oneOf" failure is
// about (the first one it names), else "".
func (p Problem) Property() string {
	if p.Keyword != "required" && p.Keyword != "additionalProperties" && p.Keyword != "oneOf" {
		return ""
	}
	i := strings.IndexByte(p.Message, '\'')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(p.Message[i+1:], '\'')
	if j < 0 {
		return ""
	}
	return p.Message[i+1 : i+1+j]
}

// Describe renders problems as "field: message" joined by "; ", each field under root
// (see Problem.Field); the document itself is named root, or "(top level)" when root is
// empty.
func Describe(problems []Problem, root string) string {
	parts := make([]string, len(problems))
	for i, p := range problems {
		f := p.Field(root)
		if f == "" {
			f = "(top level)"
		}
		parts[i] = f + ": " + p.Message
	}
	return strings.Join(parts, "; ")
}

// Error is a document's failure to satisfy a schema.
type Error struct {
	root   *jsonschema.ValidationError
	schema *jsonschema.Schema // the schema root failed, to name a oneOf's alternatives
}

// Error lists every problem, fields named from the document's top level.
func (e *Error) Error() string { return Describe(e.Problems(), "") }

// Problems returns every failing leaf, sorted by field, then message.
func (e *Error) Problems() []Problem { return e.Forgiving(nil) }

// Forgiving returns the failing leaves that forgive does not excuse, sorted like
// Problems. A failure is excused when forgive returns true for it (leaves), when every
// failure under it is excused, or when it is an anyOf or oneOf one of whose alternatives
// failed only for excused reasons. An empty result means the document passes once the
// excused problems are set aside. forgive nil excuses nothing.
func (e *Error) Forgiving(forgive func(Problem) bool) []Problem {
	out, _ := leaves(e.root, forgive, e.schema)
	sort.SliceStable(out, func(i, j int) bool {
		fi, fj := out[i].Field(""), out[j].Field("")
		if fi != fj {
			return fi < fj
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// leaves returns the unexcused leaves under ve and whether ve as a whole is excused.
// Its depth is the schema's nesting depth.
func leaves(ve *jsonschema.ValidationError, forgive func(Problem) bool, root *jsonschema.Schema) ([]Problem, bool) {
	kw := lastSegment(ve.KeywordLocation)
	if len(ve.Causes) == 0 {
		p := Problem{Path: pointerSegments(ve.InstanceLocation), Keyword: kw, Message: ve.Message}
		switch kw {
		case "oneOf":
			p.Message = oneOfSeveral(ve, root)
		case "maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum", "multipleOf":
			p.Message = plainNumbers(p.Message)
		}
		if forgive != nil && forgive(p) {
			return nil, true
		}
		return []Problem{p}, false
	}
	alternatives := kw == "anyOf" || kw == "oneOf"
	var out, wrongType []Problem
	var byAlternative [][]Problem // each alternative's problems (alternatives only)
	all, some := true, false
	for _, c := range ve.Causes {
		ps, ok := leaves(c, forgive, root)
		all = all && ok
		some = some || ok
		if alternatives && onlyWrongType(ps, ve.InstanceLocation) {
			wrongType = append(wrongType, ps...)
			continue
		}
		out = append(out, ps...)
		if alternatives {
			byAlternative = append(byAlternative, ps)
		}
	}
	if all || (alternatives && some) {
		return nil, true
	}
	if p, ok := oneOfRequired(byAlternative, ve.InstanceLocation); ok {
		return []Problem{p}, false
	}
	// An alternative for another type of value says nothing useful ("expected object,
	// but got array") when one for the value's own type says what is wrong inside it.
	if len(out) == 0 {
		out = wrongType
	}
	return out, false
}

// oneOfRequired merges the failures of alternatives that each require one more
// property of the object at loc (anyOf [{required: [task_id]}, {required: [id]}]) into
// one problem naming them all, in the schema's order: "missing properties: one of
// 'task_id', 'id'", whose Property is the first. Sorted apart, the last alternative would
// be named alone, as if the others did not exist. It merges nothing unless every
// alternative failed for exactly one missing property, so that "one of" is true, and
// names a property required by two alternatives once.
func oneOfRequired(alternatives [][]Problem, loc string) (Problem, bool) {
	at := pointerSegments(loc)
	var names []string
	for _, ps := range alternatives {
		if len(ps) != 1 {
			return Problem{}, false
		}
		p := ps[0]
		name := p.Property()
		if p.Keyword != "required" || !slices.Equal(p.Path, at) || name == "" ||
			strings.Count(p.Message, "'") != 2 {
			return Problem{}, false
		}
		if quoted := "'" + name + "'"; !slices.Contains(names, quoted) {
			names = append(names, quoted)
		}
	}
	if len(names) < 2 {
		return Problem{}, false
	}
	return Problem{Path: at, Keyword: "required",
		Message: "missing properties: one of " + strings.Join(names, ", ")}, true
}

// oneOfSeveral is the message of a oneOf that more than one alternative satisfied. When
// those alternatives each require one property, not the same (oneOf [{required:
// [task_id]}, {required: [tasks]}]), it names them: "only one of 'task_id', 'tasks' may
// be given", whose Property is the first; otherwise it is the validator's ("valid
// against schemas at indexes 0 and 2").
func oneOfSeveral(ve *jsonschema.ValidationError, root *jsonschema.Schema) string {
	var i, j int
	if _, err := fmt.Sscanf(ve.Message, "valid against schemas at indexes %d and %d", &i, &j); err != nil {
		return ve.Message
	}
	s := schemaAt(root, strings.TrimSuffix(ve.KeywordLocation, "/oneOf"))
	if s == nil || i < 0 || j < 0 || i >= len(s.OneOf) || j >= len(s.OneOf) {
		return ve.Message
	}
	var names []string
	for _, alt := range []*jsonschema.Schema{s.OneOf[i], s.OneOf[j]} {
		if len(alt.Required) != 1 {
			return ve.Message // "one of" would not be true
		}
		if q := "'" + alt.Required[0] + "'"; !slices.Contains(names, q) {
			names = append(names, q)
		}
	}
	if len(names) < 2 {
		return ve.Message // both require the same property: they differ elsewhere
	}
	return "only one of " + strings.Join(names, ", ") + " may be given"
}

// exponent matches a number the validator wrote in exponent form (1.047552e+06).
var exponent = regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?e[+-][0-9]+`)

// plainNumbers rewrites the numbers of a bound's message without exponents: "must be <=
// 1047552 but found 2000000", not "1.047552e+06".
func plainNumbers(msg string) string {
	return exponent.ReplaceAllStringFunc(msg, func(n string) string {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return n
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	})
}

// schemaAt returns the subschema of s at a keyword location made of properties, items
// and $ref steps, or nil for any other step.
func schemaAt(s *jsonschema.Schema, ptr string) *jsonschema.Schema {
	segs := pointerSegments(ptr)
	for k := 0; k < len(segs) && s != nil; k++ {
		switch segs[k] {
		case "properties":
			if k+1 == len(segs) {
				return nil
			}
			k++
			s = s.Properties[segs[k]]
		case "items":
			s, _ = s.Items.(*jsonschema.Schema)
		case "$ref":
			s = s.Ref
		default:
			return nil
		}
	}
	return s
}

// onlyWrongType reports whether ps are all "type" failures of the value at loc itself:
// an anyOf/oneOf alternative meant for another type of value.
func onlyWrongType(ps []Problem, loc string) bool {
	at := pointerSegments(loc)
	for _, p := range ps {
		if p.Keyword != "type" || !slices.Equal(p.Path, at) {
			return false
		}
	}
	return len(ps) > 0
}

// ProblemsOf returns the problems of err when it is (or wraps) an *Error, else nil.
func ProblemsOf(err error) []Problem {
	var e *Error
	if errors.As(err, &e) {
		return e.Problems()
	}
	return nil
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

// Decode decodes raw as one JSON value for validation, numbers kept as json.Number.
func Decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	// Only white space may follow (dec.More misses a closing bracket or brace).
	if rest := bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// InputsFailed is the host's message for a task whose inputs failed validation, naming
// the task and each field: "Input validation failed for task <id>: inputs.a: <reason>;
// inputs: missing properties: 'b'". err is what Validate or ValidateJSON returned; an
// error that is not an *Error (inputs that are not JSON, a failing validator) is quoted.
func InputsFailed(taskID string, err error) string {
	if ps := ProblemsOf(err); ps != nil {
		return fmt.Sprintf("Input validation failed for task %s: %s", taskID, Describe(ps, "inputs"))
	}
	return fmt.Sprintf("Input validation failed for task %s: %v", taskID, err)
}
