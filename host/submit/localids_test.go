package submit

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestLocalIDs: with Options.LocalIDs the ids of a submission are names local to it: the
// same tree, whose ids all exist already, is accepted again under new generated ids,
// with parent_id, dependencies and the tree id following; without it, it is refused.
func TestLocalIDs(t *testing.T) {
	t.Parallel()
	tree := `[
	 {"id": "report", "name": "Report", "task_tree_id": "my-tree", ` + agg + `, "dependencies": ["fetch", {"id": "parse", "required": false}]},
	 {"id": "fetch", "name": "Fetch", "parent_id": "report", ` + echo + `},
	 {"id": "parse", "name": "Parse", "parent_id": "report", ` + echo + `, "dependencies": ["fetch"]}
	]`
	exists := func(context.Context, string) (bool, error) { return true, nil }
	tests := []struct {
		name    string
		local   bool
		wantErr bool
	}{
		{"ids kept: they exist already", false, true},
		{"local ids: stored under new ones", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Exists: exists, TreeExists: exists, LocalIDs: tt.local}
			tasks, err := Prepare(context.Background(), []byte(tree), opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Prepare: %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			byName := map[string]int{}
			for i, tk := range tasks {
				byName[tk.Name] = i
				if tk.ID == "report" || tk.ID == "fetch" || tk.ID == "parse" || tk.ID == "" {
					t.Errorf("task %s kept the local id %q", tk.Name, tk.ID)
				}
			}
			report, fetch, parse := tasks[byName["Report"]], tasks[byName["Fetch"]], tasks[byName["Parse"]]
			for _, tk := range tasks {
				if tk.TaskTreeID != report.ID {
					t.Errorf("%s: task_tree_id %q, want the root's new id %q", tk.Name, tk.TaskTreeID, report.ID)
				}
			}
			if fetch.ParentID != report.ID || parse.ParentID != report.ID {
				t.Errorf("parents = %q, %q, want %q", fetch.ParentID, parse.ParentID, report.ID)
			}
			if d := report.Dependencies; len(d) != 2 || d[0].ID != fetch.ID || !d[0].Required || d[1].ID != parse.ID || d[1].Required {
				t.Errorf("report's dependencies = %+v", d)
			}
			if d := parse.Dependencies; len(d) != 1 || d[0].ID != fetch.ID {
				t.Errorf("parse's dependencies = %+v", d)
			}
		})
	}
}

// TestInjectionKeys: a dependency's injection key is the "key" it gives, else its name
// when it was referred to by name; a derived key another dependency already uses falls
// back to the id, a given one is refused.
func TestInjectionKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, deps string
		wantKeys   []string // "" = injected under the id
		wantErr    string
	}{
		{"by id", `["a"]`, []string{""}, ""},
		{"by name", `[{"name": "a-name"}]`, []string{"a-name"}, ""},
		{"a given key", `[{"id": "a", "key": "first"}, {"name": "a", "key": "second"}]`, []string{"first", "second"}, ""},
		{"a name equal to another dependency's id", `["a", {"name": "a"}]`, []string{"", ""}, ""},
		{"a given key taken", `["a", {"name": "a", "key": "a"}]`, nil, `dependencies[1].key`},
		{"a key that is no string", `[{"id": "a", "key": 3}]`, nil, `dependencies[0].key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tree := `[{"id": "r", "name": "R", ` + echo + `, "dependencies": ` + tt.deps + `},
				{"id": "a", "name": "a-name", "parent_id": "r", ` + echo + `},
				{"id": "b", "name": "a", "parent_id": "r", ` + echo + `}]`
			tasks, err := Prepare(context.Background(), []byte(tree), Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one about %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range tasks[0].Dependencies {
				got = append(got, d.Key)
			}
			if !slices.Equal(got, tt.wantKeys) {
				t.Errorf("keys = %q, want %q", got, tt.wantKeys)
			}
		})
	}
}
