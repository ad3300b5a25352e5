package submit

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// treeSchema compiles schemas/tree.schema.json of the repository.
func treeSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join("..", "..", "schemas", "tree.schema.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat = true
	if err := c.AddResource("mem:///tree.schema.json", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem:///tree.schema.json")
	if err != nil {
		t.Fatalf("%s does not compile: %v", path, err)
	}
	return s
}

func schemaValid(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	v, err := decodeValue(data)
	if err != nil {
		t.Fatalf("test input is not JSON: %v", err)
	}
	return s.Validate(v)
}

// treeFiles lists the fixtures of testdata/trees and any example tree of the repository
// (examples/**/*tree*.json).
func treeFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "trees", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures (%v)", err)
	}
	root := filepath.Join("..", "..", "examples")
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && (d.Name() == "node_modules" || d.Name() == "target" || strings.HasPrefix(d.Name(), ".")) {
			return fs.SkipDir
		}
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") && strings.Contains(d.Name(), "tree") {
			files = append(files, path)
		}
		return nil
	})
	return files
}

func TestTreeFilesValidate(t *testing.T) {
	t.Parallel()
	s := treeSchema(t)
	for _, f := range treeFiles(t) {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := schemaValid(t, s, data); err != nil {
				t.Errorf("schema: %#v", err)
			}
			if strings.HasPrefix(f, "testdata") {
				opts, _ := setup(t)
				if _, err := Prepare(context.Background(), data, opts); err != nil {
					t.Errorf("Prepare: %v", err)
				}
			} else if _, err := Prepare(context.Background(), data, Options{}); err != nil {
				t.Errorf("Prepare (no catalog): %v", err)
			}
		})
	}
}

// TestSchemaAgreesWithDecoder checks, shape by shape, that the JSON Schema and Prepare
// (without catalog, so only format rules apply) accept and refuse the same inputs.
// Every input is otherwise a valid single-root tree.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	t.Parallel()
	s := treeSchema(t)
	const m = `"schemas": {"method": "x"}`
	tests := []struct {
		name  string
		input string
		ok    bool
	}{
		{"array", `[{"name": "a", ` + m + `}]`, true},
		{"wrapped", `{"tasks": [{"name": "a", ` + m + `}]}`, true},
		{"wrapped with extra keys", `{"tasks": [{"name": "a", ` + m + `}], "use_streaming": true}`, true},
		{"single", `{"name": "a", ` + m + `}`, true},
		{"empty array", `[]`, false},
		{"empty wrapped", `{"tasks": []}`, false},
		{"tasks null", `{"tasks": null}`, false},
		{"tasks object", `{"tasks": {"name": "a"}}`, false},
		{"scalar", `"a"`, false},
		{"item not object", `[{"name": "a", ` + m + `}, 1]`, false},
		{"no name", `[{` + m + `}]`, false},
		{"empty name", `[{"name": "", ` + m + `}]`, false},
		{"long name", `[{"name": "` + strings.Repeat("n", 256) + `", ` + m + `}]`, false},
		{"255 name", `[{"name": "` + strings.Repeat("ñ", 255) + `", ` + m + `}]`, true},
		{"id null", `[{"id": null, "name": "a", ` + m + `}]`, true},
		{"id number", `[{"id": 5, "name": "a", ` + m + `}]`, false},
		{"long id", `[{"id": "` + strings.Repeat("i", 256) + `", "name": "a", ` + m + `}]`, false},
		{"unknown fields", `[{"name": "a", "colour": [1], "result": 5, "progress": "x", ` + m + `}]`, true},
		{"status pending", `[{"name": "a", "status": "pending", ` + m + `}]`, true},
		{"status null", `[{"name": "a", "status": null, ` + m + `}]`, true},
		{"status failed", `[{"name": "a", "status": "failed", ` + m + `}]`, false},
		{"priority 0", `[{"name": "a", "priority": 0, ` + m + `}]`, true},
		{"priority 2.0", `[{"name": "a", "priority": 2.0, ` + m + `}]`, true},
		{"priority 1.5", `[{"name": "a", "priority": 1.5, ` + m + `}]`, false},
		{"priority 4", `[{"name": "a", "priority": 4, ` + m + `}]`, false},
		{"priority string", `[{"name": "a", "priority": "1", ` + m + `}]`, false},
		{"priority null", `[{"name": "a", "priority": null, ` + m + `}]`, true},
		{"parent_id number", `[{"name": "a", "parent_id": 3, ` + m + `}]`, false},
		{"user_id number", `[{"name": "a", "user_id": 3, ` + m + `}]`, false},
		{"inputs array", `[{"name": "a", "inputs": [], ` + m + `}]`, false},
		{"inputs null", `[{"name": "a", "inputs": null, ` + m + `}]`, true},
		{"params string", `[{"name": "a", "params": "p", ` + m + `}]`, false},
		{"no method", `[{"name": "a"}]`, false},
		{"method null", `[{"name": "a", "schemas": {"method": null}}]`, false},
		{"method empty", `[{"name": "a", "schemas": {"method": ""}}]`, false},
		{"method in params", `[{"name": "a", "params": {"executor_id": "x"}}]`, true},
		{"executor_id empty", `[{"name": "a", "params": {"executor_id": ""}, ` + m + `}]`, false},
		{"schemas extra keys", `[{"name": "a", "schemas": {"method": "x", "type": "local", "model": 4}}]`, true},
		{"input_schema bool", `[{"name": "a", "schemas": {"method": "x", "input_schema": true}}]`, true},
		{"input_schema string", `[{"name": "a", "schemas": {"method": "x", "input_schema": "s"}}]`, false},
		{"dependencies string", `[{"name": "a", "dependencies": "b", ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, false},
		{"dependencies null", `[{"name": "a", "dependencies": null, ` + m + `}]`, true},
		{"dep shapes", `[{"name": "a", "dependencies": ["b", {"id": "b"}, {"name": "b", "required": false}, {"id": "b", "type": "result", "required": null}], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, true},
		{"dep id and name", `[{"name": "a", "dependencies": [{"id": "b", "name": "zzz"}], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, true},
		{"dep null id with name", `[{"name": "a", "dependencies": [{"id": null, "name": "b"}], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, true},
		{"dep empty string", `[{"name": "a", "dependencies": [""], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, false},
		{"dep number", `[{"name": "a", "dependencies": [1], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, false},
		{"dep empty object", `[{"name": "a", "dependencies": [{}], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, false},
		{"dep id number", `[{"name": "a", "dependencies": [{"id": 2}], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, false},
		{"dep required string", `[{"name": "a", "dependencies": [{"id": "b", "required": "no"}], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, false},
		{"dep unknown member", `[{"name": "a", "dependencies": [{"id": "b", "requried": false}], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, false},
		{"dep by name, unknown member", `[{"name": "a", "dependencies": [{"name": "b", "optional": true}], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, false},
		{"dep key null", `[{"name": "a", "dependencies": [{"id": "b", "key": null}], ` + m + `}, {"name": "b", "parent_id": "a", ` + m + `}]`, true},
		{"limits", `[{"name": "a", "params": {"limits": {"timeout_ms": 1, "memory_pages": 65536, "max_result_bytes": 0}}, ` + m + `}]`, true},
		{"limits top-level", `[{"name": "a", "limits": {"timeout_ms": 1}, ` + m + `}]`, true},
		{"limits twice", `[{"name": "a", "limits": {}, "params": {"limits": {}}, ` + m + `}]`, false},
		{"limits unknown", `[{"name": "a", "params": {"limits": {"cpu": 1}}, ` + m + `}]`, false},
		{"limits negative", `[{"name": "a", "params": {"limits": {"timeout_ms": -1}}, ` + m + `}]`, false},
		{"limits pages", `[{"name": "a", "params": {"limits": {"memory_pages": 65537}}, ` + m + `}]`, false},
		{"limits not object", `[{"name": "a", "params": {"limits": 5}, ` + m + `}]`, false},
		{"retry", `[{"name": "a", "params": {"retry": {"max_attempts": 3, "backoff": {"initial_ms": 10, "multiplier": 2, "max_ms": 100, "jitter": 0.2}, "retry_on": ["timeout", "code:429"]}}, ` + m + `}]`, true},
		{"retry null", `[{"name": "a", "params": {"retry": null}, ` + m + `}]`, true},
		{"retry zero attempts", `[{"name": "a", "params": {"retry": {"max_attempts": 0}}, ` + m + `}]`, false},
		{"retry unknown key", `[{"name": "a", "params": {"retry": {"tries": 2}}, ` + m + `}]`, false},
		{"retry bad entry", `[{"name": "a", "params": {"retry": {"retry_on": ["often"]}}, ` + m + `}]`, false},
		{"retry not object", `[{"name": "a", "params": {"retry": 3}, ` + m + `}]`, false},
		{"schedule", `[{"name": "a", "schedule_type": "cron", "schedule_expression": "0 * * * *", "schedule_enabled": true, "schedule_start_at": "2126-01-01T00:00:00Z", "schedule_end_at": "2126-01-02", "max_runs": 3, ` + m + `}]`, true},
		{"schedule time zone", `[{"name": "a", "schedule_type": "weekly", "schedule_expression": "mon,fri@08:00", "schedule_timezone": "Europe/Paris", ` + m + `}]`, true},
		{"schedule time zone number", `[{"name": "a", "schedule_timezone": 2, ` + m + `}]`, false},
		{"schedule unknown type", `[{"name": "a", "schedule_type": "hourly", ` + m + `}]`, false},
		{"schedule enabled alone", `[{"name": "a", "schedule_enabled": true, ` + m + `}]`, false},
		{"schedule enabled string", `[{"name": "a", "schedule_enabled": "yes", ` + m + `}]`, false},
		{"schedule bad time", `[{"name": "a", "schedule_start_at": "soon", ` + m + `}]`, false},
		{"max_runs negative", `[{"name": "a", "max_runs": -3, ` + m + `}]`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schemaErr := schemaValid(t, s, []byte(tc.input))
			_, prepErr := Prepare(context.Background(), []byte(tc.input), Options{})
			if (schemaErr == nil) != tc.ok {
				t.Errorf("schema: ok=%v, want %v (%v)", schemaErr == nil, tc.ok, schemaErr)
			}
			if (prepErr == nil) != tc.ok {
				t.Errorf("Prepare: ok=%v, want %v (%v)", prepErr == nil, tc.ok, prepErr)
			}
		})
	}
}
