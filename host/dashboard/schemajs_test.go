package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/schema"
)

// agreement holds documents on which the dashboard's validator (assets/js/schema.js)
// must say exactly what the server (host/schema, draft 2020-12 as for plugin schemas)
// says: the same problems, paths and messages, in the same order. Left out: numbers and
// null in enum and const messages, which schema.js writes as JSON (see its comment), and
// numbers the server prints as sent (1e21) where JavaScript writes 1e+21.
var agreement = []struct{ schema, value string }{
	{`{"type": "string"}`, `1`},
	{`{"type": "integer"}`, `2.5`},
	{`{"type": ["string", "null"]}`, `{}`},
	{`{"type": "object", "required": ["name", "b"], "properties": {"name": {"type": "string"}}}`, `{"b": 1}`},
	{`{"properties": {"a": {}}, "additionalProperties": false}`, `{"a": 1, "x": 2}`},
	{`{"additionalProperties": {"type": "number"}}`, `{"x": "s"}`},
	{`{"patternProperties": {"^n_": {"type": "number"}}, "additionalProperties": false}`, `{"n_a": "x", "y": 1}`},
	{`{"minProperties": 2, "maxProperties": 0}`, `{"a": 1}`},
	{`{"propertyNames": {"maxLength": 2}}`, `{"abc": 1}`},
	{`{"dependentRequired": {"a": ["b"]}}`, `{"a": 1}`},
	{`{"enum": ["a", "b"]}`, `"c"`},
	{`{"enum": ["a"]}`, `"c"`},
	{`{"enum": [{"a": 1}]}`, `{"a": 2}`},
	{`{"enum": [{"a": 1, "b": 2}]}`, `{"b": 2, "a": 1}`},
	{`{"const": "x"}`, `"y"`},
	{`{"const": [1]}`, `[2]`},
	{`{"items": {"type": "string"}, "minItems": 3, "maxItems": 1}`, `["a", 1]`},
	{`{"prefixItems": [{"type": "string"}], "items": {"type": "number"}}`, `[1, "x"]`},
	{`{"prefixItems": [{}], "items": false}`, `[1, 2]`},
	{`{"uniqueItems": true}`, `[1, {"a": [1]}, 2, {"a": [1]}]`},
	{`{"contains": {"type": "string"}}`, `[1]`},
	{`{"contains": {"const": 1}, "maxContains": 1}`, `[1, 1]`},
	{`{"minLength": 3, "maxLength": 1}`, `"😀é"`},
	{`{"pattern": "^[a-z]+$"}`, `"aB"`},
	{`{"minimum": 1, "maximum": 0.5}`, `0.75`},
	{`{"exclusiveMinimum": 1, "exclusiveMaximum": 1}`, `1`},
	{`{"multipleOf": 3}`, `10`},
	{`{"multipleOf": 0.1}`, `0.3`},
	{`{"multipleOf": 0.01}`, `0.015`},
	{`{"allOf": [{"minimum": 2}, {"maximum": 0}]}`, `1`},
	{`{"anyOf": [{"type": "string"}, {"type": "array"}]}`, `1`},
	{`{"anyOf": [{"properties": {"b": {"type": "string"}}}, {"type": "array"}]}`, `{"b": 1}`},
	{`{"oneOf": [{"minimum": 5}, {"maximum": 1}]}`, `3`},
	{`{"oneOf": [{"type": "number"}, {"minimum": 0}]}`, `1`},
	{`{"not": {"type": "string"}}`, `"s"`},
	{`{"if": {"properties": {"k": {"const": "n"}}}, "then": {"properties": {"v": {"type": "number"}}}, "else": {"properties": {"v": {"type": "string"}}}}`, `{"k": "n", "v": "x"}`},
	{`{"if": {"properties": {"k": {"const": "n"}}}, "then": {"properties": {"v": {"type": "number"}}}, "else": {"properties": {"v": {"type": "string"}}}}`, `{"k": "s", "v": 1}`},
	{`false`, `null`},
	{`{"properties": {"a": false}}`, `{"a": 1}`},
	{`{"$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}}`, `{"a": 1}`},
	{`{"$defs": {"a/b": {"const": "s"}}, "$ref": "#/$defs/a~1b"}`, `2`},
	{`{"contains": {"type": "string"}}`, `[]`},
	{`{"contains": {"type": "string"}, "minContains": 2}`, `[1, "a"]`},
	{`{"properties": {"name": {"type": "string"}, "children": {"items": {"$ref": "#"}}}}`, `{"children": [{"children": [{"name": 3}]}]}`},
	{`{"properties": {"items": {"items": {"properties": {"id": {"type": "string"}}}}}}`, `{"items": [{"id": "a"}, {"id": 1}]}`},
	{`{"type": "object", "format": "email", "title": "t", "description": "d", "default": 1, "examples": []}`, `{}`},
	{`{"required": ["it's", "a\"b"]}`, `{}`},
	{`{"properties": {"a": {"anyOf": [{"type": "integer"}, {"properties": {"b": {"minimum": 1}}}]}}}`, `{"a": {"b": 0}}`},
	{`{"items": {"oneOf": [{"type": "string"}, {"type": "object", "required": ["id"]}]}}`, `["a", {}, 3]`},
	{`{"dependentSchemas": {"a": {"properties": {"b": {"type": "string"}}}}}`, `{"a": 1, "b": 2}`},
	{`{"if": {"type": "string"}, "then": {"minLength": 2}}`, `"x"`},
	{`{"properties": {"a": {"not": {}}}, "patternProperties": {"^a": {"type": "string"}}}`, `{"a": 1}`},
	{`{"$defs": {"n": {"type": "object", "properties": {"next": {"$ref": "#/$defs/n"}, "v": {"type": "integer"}}}}, "$ref": "#/$defs/n"}`, `{"next": {"next": {"v": 1.5}}}`},
	{`{"type": "object", "required": ["name"], "additionalProperties": false,
		"properties": {"name": {"type": "string"}, "a/b": {"type": "integer"},
			"n": {"type": "object", "properties": {"z": {"type": "string"}, "y": {"minimum": 3}}}}}`,
		`{"a/b": "x", "n": {"z": 1, "y": 1}, "extra": 1}`},
}

// TestSchemaJSAgreesWithServer runs agreement through host/schema and through schema.js
// (in node, skipped like TestJSUnits) and compares their problems.
func TestSchemaJSAgreesWithServer(t *testing.T) {
	node := nodeOrSkip(t)
	type problem struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	}
	type doc struct {
		Schema json.RawMessage `json:"schema"`
		Value  json.RawMessage `json:"value"`
	}
	docs := make([]doc, len(agreement))
	want := make([][]problem, len(agreement))
	for i, a := range agreement {
		docs[i] = doc{json.RawMessage(a.schema), json.RawMessage(a.value)}
		s, err := schema.Compile("input_schema", []byte(a.schema), schema.Draft2020)
		if err != nil {
			t.Fatalf("%s: %v", a.schema, err)
		}
		want[i] = []problem{}
		var e *schema.Error
		if err := s.ValidateJSON([]byte(a.value)); errors.As(err, &e) {
			for _, p := range e.Problems() {
				want[i] = append(want[i], problem{p.Field(""), p.Message})
			}
		} else if err != nil {
			t.Fatalf("%s: %v", a.schema, err)
		}
	}
	in, err := json.Marshal(docs)
	if err != nil {
		t.Fatal(err)
	}
	module, err := filepath.Abs(filepath.Join("assets", "js", "schema.js"))
	if err != nil {
		t.Fatal(err)
	}
	script := `import { validate } from ` + jsString((&url.URL{Scheme: "file", Path: filepath.ToSlash(module)}).String()) + `;
let input = "";
for await (const chunk of process.stdin) input += chunk;
process.stdout.write(JSON.stringify(JSON.parse(input).map((d) => validate(d.schema, d.value))));`
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--input-type=module", "-e", script)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got [][]problem
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node's answer: %v\n%s", err, out)
	}
	for i, a := range agreement {
		g, _ := json.Marshal(got[i])
		w, _ := json.Marshal(want[i])
		if !bytes.Equal(g, w) {
			t.Errorf("schema %s, value %s:\nschema.js %s\nserver    %s", a.schema, a.value, g, w)
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
