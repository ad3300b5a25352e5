package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestTaskInputSchemaRules: a task's own schemas.input_schema is read as submission
// reads it (draft-07 unless it says $schema) and may not make the engine load anything.
func TestTaskInputSchemaRules(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "int.json")
	if err := os.WriteFile(file, []byte(`{"type": "integer"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		schema  map[string]any
		inputs  map[string]any
		wantErr string // "" : completes
	}{
		{"draft-07 tuple items", map[string]any{"properties": map[string]any{
			"a": map[string]any{"items": []any{map[string]any{"type": "string"}}}}},
			map[string]any{"a": []any{"x", 1}}, ""},
		{"draft-07 tuple items checked", map[string]any{"properties": map[string]any{
			"a": map[string]any{"items": []any{map[string]any{"type": "string"}}}}},
			map[string]any{"a": []any{1}}, "Input validation failed for task t: inputs.a.0: expected string, but got number"},
		{"no file $ref", map[string]any{"$ref": "file://" + file},
			map[string]any{}, "Input validation failed for task t: schemas.input_schema does not compile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t)
			root := v.create(spec{id: "t", inputSchema: tt.schema, inputs: tt.inputs})
			v.run(root, RunOptions{})
			if tt.wantErr == "" {
				v.wantStatus("t", task.Completed)
				return
			}
			got := v.wantStatus("t", task.Failed)
			if !strings.Contains(got.Error, tt.wantErr) {
				t.Fatalf("error = %q, want it to contain %q", got.Error, tt.wantErr)
			}
		})
	}
}

// TestTaskSchemaCompiledOnce: tasks sharing one schemas.input_schema compile it once,
// however many execute; each execution validates each schema once.
func TestTaskSchemaCompiledOnce(t *testing.T) {
	t.Parallel()
	cache := schema.NewTaskCache(0)
	v := setup(t, func(c *Config) { c.TaskSchemas = cache })
	own := map[string]any{"type": "object", "required": []any{"name"}}
	specs := []spec{{id: "root", method: "typed", inputSchema: own, inputs: map[string]any{"name": "r"}}}
	const n = 8
	for i := range n {
		specs = append(specs, spec{id: fmt.Sprintf("c%d", i), method: "typed", inputSchema: own,
			inputs: map[string]any{"name": "x"}})
	}
	v.run(v.create(specs...), RunOptions{})
	for _, s := range specs {
		v.wantStatus(s.id, task.Completed)
	}
	if st := cache.Stats(); st.Compiles != 1 || st.Hits != n {
		t.Fatalf("task schema cache = %+v, want 1 compile and %d hits", st, n)
	}
	if got := v.cat.typedSchema.Validations(); got != n+1 {
		t.Fatalf("executor schema validated %d times for %d executions", got, n+1)
	}
}
