package submit

import (
	"context"

	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// TestOddInputSchemas feeds schemas that the third-party compiler must refuse or
// handle: every outcome is a valid tree or an *apferr.Error, never a panic or a file read.
func TestOddInputSchemas(t *testing.T) {
	t.Parallel()
	for _, sch := range []string{
		`{"type": "foo"}`, `{"$schema": "http://json-schema.org/draft-04/schema#"}`, `{"$schema": 5}`,
		`{"$schema": "https://example.com/custom"}`,
		`{"$id": "http://x/", "$ref": "other.json"}`, `{"pattern": "("}`, `{"properties": {"a": {"format": "regex"}}}`,
		`{"$dynamicRef": "#x"}`, `{"minimum": 1e400}`, `{"$ref": "#"}`, `{"items": {"$ref": "#"}}`,
		`{"$ref": "#/definitions/a", "definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}}`,
		`{"multipleOf": 0}`, `{"multipleOf": 1e-400}`, `{"enum": []}`, `{"required": [1]}`, `false`, `true`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"x": {"$dynamicAnchor": "x"}}, "$dynamicRef": "#x"}`,
		`{"contentEncoding": "base64", "contentMediaType": "application/json"}`,
		`{"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"required": ["c"]}}`,
	} {
		for _, inputs := range []string{`{}`, `{"a": "(", "b": [1, 2], "n": 1e400}`} {
			data := `[{"name": "r", "schemas": {"method": "echo", "input_schema": ` + sch + `}, "inputs": ` + inputs + `}]`
			opts, _ := setup(t)
			_, err := Prepare(context.Background(), []byte(data), opts)
			if err != nil && apferr.As(err) == nil {
				t.Errorf("%s / %s: error %T %v", sch, inputs, err, err)
			}
		}
	}
}
