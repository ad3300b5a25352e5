package apflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// Executor describes a plugin executor whose inputs decode into In and whose result is
// the JSON encoding of Out.
//
// Schemas: unless InputSchema (OutputSchema) holds a literal JSON Schema, the input
// (output) schema is derived from In (Out) with [SchemaOf]: struct fields by their json
// names (embedded structs flattened), bool → boolean, integers → integer (unsigned ones
// with minimum 0), floats → number, string → string, slices and arrays → array, maps →
// object, pointers → the element's type or null, time.Time → date-time string, any and
// json.RawMessage → anything. When In (Out) itself is any, an interface, json.RawMessage
// or a type with its own MarshalJSON, the executor reports no schema at all (the host
// accepts any input; injection flat-merges the result into dependents). A field is required only when tagged so; objects never
// forbid additional properties, because dependency injection may add keys. Struct tags:
//
//	Text  string  `json:"text" jsonschema:"required,minLength=1" description:"The text to analyse"`
//	Top   int     `json:"top,omitempty" jsonschema:"minimum=1,maximum=100,default=10"`
//	Mode  string  `json:"mode" jsonschema:"enum=fast|exact"`
//
// jsonschema keys: required, description, title, format, pattern, minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength, minItems,
// maxItems, minProperties, maxProperties, enum (values separated by |), default. Items are
// separated by commas; write `\,` for a literal comma, or use the description tag.
//
// json.RawMessage passes JSON through untouched: an In of that type is a copy of the
// inputs' bytes as the host sent them (always one JSON value), and an Out of that type
// (when not empty; an empty one is null) is handed to the host as is, where
// encoding/json would have checked and compacted it; the host refuses a result that is
// not JSON (a "result" failure naming the task, and the instance is discarded). Pitfall
// of forwarding someone else's JSON: an object result with a top-level "error" member is
// a failure (docs/abi.md). encoding/json is slow in WebAssembly: decoding and re-encoding a
// small object costs tens of microseconds per call, several times what the host spends
// on the call (docs/performance.md), so an executor that only forwards or stores JSON
// should take and return json.RawMessage.
type Executor[In, Out any] struct {
	// ID is the executor id tasks name in schemas.method. Required.
	ID string
	// Name, Description, Version and Tags are shown by `apflow plugins` and the API.
	Name        string
	Description string
	Version     string
	Tags        []string
	// Capabilities are what the plugin asks for ("http", "config", "clock", "random");
	// the operator's grants decide what it gets.
	Capabilities []string
	// Retry is the executor's default retry policy: the host retries failed attempts of
	// its tasks by it unless a task's params.retry says otherwise (docs/retries.md).
	// nil leaves it to the task and the operator.
	Retry *RetryPolicy
	// InputSchema and OutputSchema, when not empty, are literal JSON Schemas used instead
	// of the derived ones.
	InputSchema  string
	OutputSchema string
	// Run executes one task. A returned error becomes an error result (see [Error]); a
	// panic is recovered and becomes an error result with code "panic".
	Run func(ctx *Context, in In) (Out, error)
}

// ExecutorSpec is implemented by every Executor[In, Out]; it lets [Register] and
// [NewModule] accept executors of any input and output types.
type ExecutorSpec interface {
	spec() (*executorSpec, error)
}

// executorSpec is an Executor with its types erased.
type executorSpec struct {
	meta         Metadata
	inputSchema  json.RawMessage
	outputSchema json.RawMessage
	run          func(ctx *Context, input []byte) (any, error)
}

func (e Executor[In, Out]) spec() (*executorSpec, error) {
	if e.ID == "" {
		return nil, fmt.Errorf("executor has no ID")
	}
	if e.Run == nil {
		return nil, fmt.Errorf("executor %q has no Run function", e.ID)
	}
	in, err := schemaOrOverride[In](e.InputSchema)
	if err != nil {
		return nil, fmt.Errorf("executor %q input schema: %w", e.ID, err)
	}
	out, err := schemaOrOverride[Out](e.OutputSchema)
	if err != nil {
		return nil, fmt.Errorf("executor %q output schema: %w", e.ID, err)
	}
	run := e.Run
	return &executorSpec{
		meta: Metadata{
			ID: e.ID, Name: e.Name, Description: e.Description, Version: e.Version,
			Tags: e.Tags, Capabilities: e.Capabilities, Retry: e.Retry,
		},
		inputSchema:  in,
		outputSchema: out,
		run: func(ctx *Context, input []byte) (any, error) {
			var v In
			if len(bytes.TrimSpace(input)) == 0 {
				return run(ctx, v)
			}
			if raw, ok := any(&v).(*json.RawMessage); ok {
				*raw = bytes.Clone(input) // the input buffer is the host's, freed after the call
				return run(ctx, v)
			}
			if err := json.Unmarshal(input, &v); err != nil {
				return nil, NewError(CodeInvalidInputs, "invalid inputs: "+err.Error(), nil)
			}
			return run(ctx, v)
		},
	}, nil
}

func schemaOrOverride[T any](literal string) (json.RawMessage, error) {
	if literal == "" {
		return executorSchema(reflect.TypeFor[T]())
	}
	var v any
	if err := json.Unmarshal([]byte(literal), &v); err != nil {
		return nil, fmt.Errorf("literal schema is not JSON: %w", err)
	}
	switch v.(type) {
	case map[string]any, bool:
	default:
		return nil, fmt.Errorf("literal schema must be a JSON object or boolean")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(literal)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
