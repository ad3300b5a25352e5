package submit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

// Shape is the top-level form a submission came in.
type Shape int

// The accepted top-level forms.
const (
	// ShapeArray is a JSON array of task objects.
	ShapeArray Shape = iota
	// ShapeWrapped is an object {"tasks": [...]} (other keys ignored), as in the params
	// of tasks.execute.
	ShapeWrapped
	// ShapeSingle is one task object, as tasks.create allows.
	ShapeSingle
)

// Submission is a decoded submission: one Spec per task object, in submission order,
// and the problems found while decoding (wrong field types, missing names, ...). It has
// not been validated as a tree yet; pass it to [Validate].
type Submission struct {
	Shape    Shape
	Specs    []*Spec
	Problems []apferr.Problem
}

// Spec is one submitted task, as given: references are still ids or names.
type Spec struct {
	// Index is the task's position in the submission.
	Index int
	// ID is the client-given id, "" when absent (one is generated).
	ID string
	// Name is the task's name; names are unique in a submission.
	Name string
	// Parent is parent_id as given: the id or name of another task, "" for the root.
	Parent string
	// TreeID is task_tree_id as given; only the root's is used.
	TreeID string
	// UserID is user_id as given.
	UserID string
	// Priority is nil when absent (the default applies).
	Priority *int
	// Dependencies are the dependency items in the given order, duplicates included.
	Dependencies []DepRef
	// Inputs, Params and Schemas are the decoded objects (numbers as json.Number), nil
	// when absent. Params no longer holds "limits": it was moved to Limits. The specs of
	// one submission whose schemas hold a method alone share one map per executor
	// (sharedSchemas), and so do the tasks Validate builds from them: replace a Schemas
	// map, never modify it in place.
	Inputs  map[string]any
	Params  map[string]any
	Schemas map[string]any
	// Limits are params.limits (or the top-level limits field).
	Limits task.Limits
	// Schedule fields, as given.
	ScheduleType       string
	ScheduleExpression string
	ScheduleEnabled    bool
	ScheduleStartAt    time.Time
	ScheduleEndAt      time.Time
	ScheduleTimezone   string
	MaxRuns            int
}

// setSchedule gives t the schedule fields of s.
func (s *Spec) setSchedule(t *task.Task) {
	t.ScheduleType, t.ScheduleExpression, t.ScheduleEnabled = s.ScheduleType, s.ScheduleExpression, s.ScheduleEnabled
	t.ScheduleStartAt, t.ScheduleEndAt, t.ScheduleTimezone, t.MaxRuns = s.ScheduleStartAt, s.ScheduleEndAt, s.ScheduleTimezone, s.MaxRuns
}

// DepRef is one dependency item as given.
type DepRef struct {
	// Ref is the id or name of the task depended on.
	Ref string
	// ByName is true for the {"name": ...} form, which is resolved by name only.
	ByName bool
	// Required is false only when the item says "required": false.
	Required bool
	// Key is the "key" an object item gives: the key the dependency's result is injected
	// under (task.Dependency.Key), as tasks.get shows it; "" when absent.
	Key string
}

// Decode parses a submission. It fails (with an *apferr.Error) only when the data cannot
// be a submission at all: too large, nested too deep, not JSON (the message gives line
// and column), or not an array, {"tasks": [...]} or object. Problems with individual
// tasks are collected in Submission.Problems and reported by [Validate].
//
// Decode accepts the raw params of a JSON-RPC call as well (a json.RawMessage is a
// []byte).
func Decode(data []byte, opts Options) (*Submission, error) {
	opts = opts.withDefaults()
	if len(data) > opts.MaxBytes {
		return nil, tooLarge(int64(len(data)), opts.MaxBytes)
	}
	if off := deepestAt(data, opts.MaxDepth); off >= 0 {
		line, col := position(data, int64(off))
		return nil, apferr.New(apferr.InvalidParams, fmt.Sprintf(
			"submission nests arrays/objects deeper than %d levels (line %d, column %d)", opts.MaxDepth, line, col)).
			WithData(map[string]any{"field": "tasks", "reason": "nesting too deep", "max_depth": opts.MaxDepth, "line": line, "column": col})
	}
	if !json.Valid(data) { // the syntax of the whole input, before anything is decoded
		var top json.RawMessage
		err := json.Unmarshal(data, &top) // the same check, for the error's offset
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, syntaxError(data, err)
	}
	sub := &Submission{}
	var items []byte // the array of task objects, or nil for a single task
	switch first(data) {
	case '[':
		sub.Shape = ShapeArray
		items = data
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, syntaxError(data, err)
		}
		raw, wrapped := obj["tasks"]
		if !wrapped {
			sub.Shape = ShapeSingle
			v, err := decodeValue(data)
			if err != nil {
				return nil, syntaxError(data, err)
			}
			sub.Specs = []*Spec{decodeSpec(0, v, opts.Namespace, &sub.Problems)}
			return sub, nil
		}
		sub.Shape = ShapeWrapped
		if first(raw) != '[' {
			return nil, apferr.Problems([]apferr.Problem{{Code: apferr.InvalidParams, Field: "tasks",
				Reason: "must be an array of task objects", Expected: "array", Actual: jsonType(raw)}})
		}
		items = raw
	default:
		return nil, apferr.Problems([]apferr.Problem{{Code: apferr.InvalidParams,
			Reason:   "a submission is a JSON array of task objects, an object {\"tasks\": [...]}, or one task object",
			Expected: "array or object", Actual: jsonType(data)}})
	}
	shared := sharedSchemas{}
	if err := eachItem(items, func(i int, v any) {
		s := decodeSpec(i, v, opts.Namespace, &sub.Problems)
		s.Schemas = shared.share(s.Schemas)
		sub.Specs = append(sub.Specs, s)
	}); err != nil {
		return nil, syntaxError(items, err)
	}
	if len(sub.Specs) == 0 {
		sub.Problems = append(sub.Problems, apferr.Problem{Code: apferr.InvalidParams, Field: "tasks",
			Reason: "the submission has no tasks", Expected: "at least one task"})
	}
	return sub, nil
}

// eachItem decodes the items of the JSON array arr one at a time, numbers as
// json.Number, and gives each to fn with its index: the submission is parsed once, and
// only one item's decoded value is held at a time besides what fn keeps.
func eachItem(arr []byte, fn func(i int, v any)) error {
	dec := json.NewDecoder(bytes.NewReader(arr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // [
		return err
	}
	for i := 0; dec.More(); i++ {
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		fn(i, v)
	}
	return nil
}

// DecodeReader reads a submission from r, reading at most Options.MaxBytes+1 bytes: a
// larger input is rejected without being read whole.
func DecodeReader(r io.Reader, opts Options) (*Submission, error) {
	opts = opts.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, int64(opts.MaxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("read submission: %w", err)
	}
	if len(data) > opts.MaxBytes {
		return nil, tooLarge(-1, opts.MaxBytes)
	}
	return Decode(data, opts)
}

func tooLarge(size int64, limit int) *apferr.Error {
	what := "more than"
	data := map[string]any{"field": "tasks", "reason": "submission too large", "max_bytes": limit}
	if size >= 0 {
		what = fmt.Sprintf("%d bytes,", size)
		data["size"] = size
	}
	return apferr.New(apferr.InvalidParams, fmt.Sprintf(
		"submission is %s over the limit of %d bytes (%s); split the tree or raise the limit",
		what, limit, humanBytes(limit))).WithData(data)
}

func humanBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// syntaxError turns a JSON decoding error into a ParseError naming line and column.
func syntaxError(data []byte, err error) *apferr.Error {
	var off int64 = int64(len(data))
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // Offset counts the offending byte

	case errors.As(err, &te):
		off = te.Offset
	}
	line, col := position(data, off)
	return apferr.New(apferr.ParseError, fmt.Sprintf("malformed JSON at line %d, column %d: %v", line, col, err)).
		WithData(map[string]any{"reason": err.Error(), "line": line, "column": col, "offset": off})
}

// first returns the first non-space byte of data, or 0.
func first(data []byte) byte {
	d := bytes.TrimLeft(data, " \t\r\n")
	if len(d) == 0 {
		return 0
	}
	return d[0]
}

// valueType names the JSON type of a decoded value.
func valueType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "number"
}

// jsonType names the JSON type of a raw value.
func jsonType(raw []byte) string {
	switch first(raw) {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	}
	return "number"
}
