package submit

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apflow-wasm/apflow/host/schema"
)

// checkInputs validates inputs against s and returns the problems. When lenient (the
// task has dependencies), missing required top-level keys are not problems: dependency
// injection may supply them, and the engine validates again after injection. A failing
// anyOf/oneOf passes when one of its alternatives fails only for such keys.
func checkInputs(s *schema.Schema, inputs map[string]any, lenient bool) ([]schema.Problem, error) {
	var v any = inputs
	if inputs == nil {
		v = map[string]any{}
	}
	err := s.Validate(v)
	if err == nil {
		return nil, nil
	}
	var se *schema.Error
	if !errors.As(err, &se) {
		return nil, err
	}
	if lenient {
		return se.Forgiving(injectable), nil
	}
	return se.Problems(), nil
}

// injectable reports a problem dependency injection may fix: a missing top-level key.
func injectable(p schema.Problem) bool { return p.Keyword == "required" && len(p.Path) == 0 }

// compileTaskSchema compiles a task's schemas.input_schema (a decoded JSON value) with
// the submission's cache. It never loads anything from outside: $ref may only point
// inside the schema itself.
func compileTaskSchema(c *schema.Cache, doc any) (*schema.Schema, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the schema: %w", err)
	}
	return c.Compile(raw)
}
