package apflow_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

type Base struct {
	Shared string `json:"shared"`
}

type Node struct {
	Name     string  `json:"name"`
	Children []*Node `json:"children"`
}

type Level string

func (l Level) MarshalText() ([]byte, error) { return []byte(l), nil }

type Everything struct {
	Base
	Text     string            `json:"text" jsonschema:"required,minLength=1" description:"The text, with, commas"`
	Count    int               `json:"count,omitempty" jsonschema:"minimum=1,maximum=10,default=3"`
	Size     uint8             `json:"size"`
	Ratio    float64           `json:"ratio" jsonschema:"exclusiveMinimum=0"`
	On       bool              `json:"on"`
	Mode     string            `json:"mode" jsonschema:"enum=fast|exact,default=fast"`
	Pattern  string            `json:"pattern" jsonschema:"pattern=^a\\,b$"`
	Tags     []string          `json:"tags" jsonschema:"minItems=1"`
	Pair     [2]int            `json:"pair"`
	Labels   map[string]string `json:"labels"`
	Any      any               `json:"any"`
	Raw      json.RawMessage   `json:"raw"`
	When     time.Time         `json:"when"`
	Opt      *int              `json:"opt"`
	Data     []byte            `json:"data"`
	Lvl      Level             `json:"lvl"`
	Tree     *Node             `json:"tree"`
	NoTag    string
	Skipped  string    `json:"-"`
	hidden   string    //lint:ignore U1000 proves unexported fields are skipped
	Nums     []float64 `json:"nums" jsonschema:"required"`
	Desc     string    `json:"desc" jsonschema:"description=short one,title=T,format=uri"`
	Multiple int       `json:"multiple" jsonschema:"multipleOf=5,exclusiveMaximum=100"`
}

func decode(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("schema is not JSON: %v\n%s", err, raw)
	}
	return m
}

func TestSchemaOfStruct(t *testing.T) {
	t.Parallel()
	raw, err := apflow.SchemaOf[Everything]()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apflowtest.CompileSchema(raw); err != nil {
		t.Fatalf("derived schema does not compile: %v\n%s", err, raw)
	}
	s := decode(t, raw)
	p := s["properties"].(map[string]any)
	tests := []struct {
		field string
		want  string
	}{
		{"shared", `{"type":"string"}`},
		{"text", `{"type":"string","minLength":1,"description":"The text, with, commas"}`},
		{"count", `{"type":"integer","minimum":1,"maximum":10,"default":3}`},
		{"size", `{"type":"integer","minimum":0}`},
		{"ratio", `{"type":"number","exclusiveMinimum":0}`},
		{"on", `{"type":"boolean"}`},
		{"mode", `{"type":"string","enum":["fast","exact"],"default":"fast"}`},
		{"pattern", `{"type":"string","pattern":"^a,b$"}`},
		{"tags", `{"type":"array","items":{"type":"string"},"minItems":1}`},
		{"pair", `{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2}`},
		{"labels", `{"type":"object","additionalProperties":{"type":"string"}}`},
		{"any", `{}`},
		{"raw", `{}`},
		{"when", `{"type":"string","format":"date-time"}`},
		{"opt", `{"type":["integer","null"]}`},
		{"data", `{"type":"string","contentEncoding":"base64"}`},
		{"lvl", `{"type":"string"}`},
		{"NoTag", `{"type":"string"}`},
		{"nums", `{"type":"array","items":{"type":"number"}}`},
		{"desc", `{"type":"string","description":"short one","title":"T","format":"uri"}`},
		{"multiple", `{"type":"integer","multipleOf":5,"exclusiveMaximum":100}`},
	}
	for _, tt := range tests {
		var want any
		if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
			t.Fatal(err)
		}
		if got := p[tt.field]; !reflect.DeepEqual(got, want) {
			t.Errorf("property %q = %v, want %v", tt.field, got, want)
		}
	}
	for _, absent := range []string{"Skipped", "hidden", "Base", "-"} {
		if _, ok := p[absent]; ok {
			t.Errorf("property %q should not be in the schema", absent)
		}
	}
	if got, want := s["required"], []any{"nums", "text"}; !reflect.DeepEqual(got, want) {
		t.Errorf("required = %v, want %v", got, want)
	}
	if s["$schema"] != apflow.SchemaDraft {
		t.Errorf("$schema = %v", s["$schema"])
	}
	if _, ok := s["additionalProperties"]; ok {
		t.Error("objects must not forbid additional properties (injection adds keys)")
	}
	// A recursive type stops at the recursion with "anything".
	var wantTree any
	_ = json.Unmarshal([]byte(`{"type":["object","null"],"properties":{"name":{"type":"string"},
		"children":{"type":"array","items":{}}}}`), &wantTree)
	if got := p["tree"]; !reflect.DeepEqual(got, wantTree) {
		t.Errorf("tree = %v, want %v", got, wantTree)
	}
}

func TestSchemaOfScalarsAndMaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		got  func() (json.RawMessage, error)
		want string
	}{
		{"map", apflow.SchemaOf[map[string]any], `{"type":"object"}`},
		{"slice", apflow.SchemaOf[[]int], `{"type":"array","items":{"type":"integer"}}`},
		{"string", apflow.SchemaOf[string], `{"type":"string"}`},
		{"any", apflow.SchemaOf[any], `{}`},
		{"int-keyed map", apflow.SchemaOf[map[int]bool], `{"type":"object","additionalProperties":{"type":"boolean"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw, err := tt.got()
			if err != nil {
				t.Fatal(err)
			}
			s := decode(t, raw)
			delete(s, "$schema")
			var want map[string]any
			_ = json.Unmarshal([]byte(tt.want), &want)
			if !reflect.DeepEqual(s, want) {
				t.Errorf("schema = %v, want %v", s, want)
			}
		})
	}
}

func TestSchemaOfErrors(t *testing.T) {
	t.Parallel()
	type badKey struct {
		X string `jsonschema:"minimun=1"`
	}
	type badNumber struct {
		X int `jsonschema:"minimum=one"`
	}
	type badEnum struct {
		X int `jsonschema:"enum=1|two"`
	}
	type badLen struct {
		X string `jsonschema:"minLength=-1"`
	}
	type chanField struct {
		C chan int `json:"c"`
	}
	type noValue struct {
		X string `jsonschema:"pattern"`
	}
	tests := []struct {
		name string
		fn   func() (json.RawMessage, error)
		want string
	}{
		{"unknown key", apflow.SchemaOf[badKey], `unknown jsonschema tag key "minimun"`},
		{"bad number", apflow.SchemaOf[badNumber], `minimum="one": not a number`},
		{"bad enum", apflow.SchemaOf[badEnum], `enum value "two"`},
		{"bad length", apflow.SchemaOf[badLen], `minLength="-1"`},
		{"chan", apflow.SchemaOf[chanField], `field chanField.C: type chan int`},
		{"func", apflow.SchemaOf[func()], `has no JSON encoding`},
		{"no value", apflow.SchemaOf[noValue], `"pattern" needs a value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.fn()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestExecutorWithoutSchema checks that an executor whose input or output type constrains
// nothing reports no schema (get_*_schema returns nothing) instead of a bare {"$schema"},
// which the host would take for a schema without properties.
func TestExecutorWithoutSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		exec            apflow.ExecutorSpec
		wantIn, wantOut bool // a schema is reported
	}{
		{"any output", apflow.Executor[map[string]any, any]{ID: "x",
			Run: func(*apflow.Context, map[string]any) (any, error) { return nil, nil }}, true, false},
		{"raw output, any input", apflow.Executor[any, json.RawMessage]{ID: "x",
			Run: func(*apflow.Context, any) (json.RawMessage, error) { return nil, nil }}, false, false},
		{"pointer to any output", apflow.Executor[struct{}, *any]{ID: "x",
			Run: func(*apflow.Context, struct{}) (*any, error) { return nil, nil }}, true, false},
		{"custom marshaler output", apflow.Executor[struct{}, custom]{ID: "x",
			Run: func(*apflow.Context, struct{}) (custom, error) { return custom{}, nil }}, true, false},
		{"map output keeps its schema", apflow.Executor[struct{}, map[string]any]{ID: "x",
			Run: func(*apflow.Context, struct{}) (map[string]any, error) { return nil, nil }}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := apflow.NewModule(tt.exec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.InputSchema() != nil; got != tt.wantIn {
				t.Errorf("input schema = %s, want reported: %v", m.InputSchema(), tt.wantIn)
			}
			if got := m.OutputSchema() != nil; got != tt.wantOut {
				t.Errorf("output schema = %s, want reported: %v", m.OutputSchema(), tt.wantOut)
			}
			for _, s := range [][]byte{m.InputSchema(), m.OutputSchema()} {
				if s != nil && !strings.Contains(string(s), `"type"`) {
					t.Errorf("reported schema %s constrains nothing", s)
				}
			}
		})
	}
}

type custom struct{}

func (custom) MarshalJSON() ([]byte, error) { return []byte(`{"k":1}`), nil }
