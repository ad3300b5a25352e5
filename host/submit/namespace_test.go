package submit

import (
	"context"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestNamespaceQualifiesSubmission: with Options.Namespace, ids, task_tree_id, generated
// ids and the ids parent_id and dependencies resolve to are all in the namespace; short
// and qualified references name the same task; names still resolve as given; the
// existence checks see the qualified ids.
func TestNamespaceQualifiesSubmission(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	opts.Namespace = task.NamespaceOf("alice")
	var asked []string
	opts.Exists = func(_ context.Context, id string) (bool, error) {
		asked = append(asked, id)
		return false, nil
	}
	var askedTree []string
	opts.TreeExists = func(_ context.Context, id string) (bool, error) {
		askedTree = append(askedTree, id)
		return false, nil
	}
	input := `[
		{"id": "root", "name": "top", "task_tree_id": "tree", "schemas": {"method": "echo"}},
		{"id": "alice/a", "name": "first", "parent_id": "root", "schemas": {"method": "echo"}},
		{"id": "bob/b", "name": "second", "parent_id": "alice/root", "schemas": {"method": "echo"},
		 "dependencies": ["a", {"id": "alice/a", "required": false}]},
		{"name": "third", "parent_id": "bob/b", "schemas": {"method": "echo"},
		 "dependencies": [{"name": "first"}, "second", "bob/b"]}
	]`
	tasks, err := Prepare(context.Background(), []byte(input), opts)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{tasks[0].ID, tasks[1].ID, tasks[2].ID, tasks[3].ID}
	if want := []string{"alice/root", "alice/a", "alice/bob/b", "alice/gen-1"}; strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("ids %v, want %v", ids, want)
	}
	for _, tk := range tasks {
		if tk.TaskTreeID != "alice/tree" {
			t.Errorf("%s: task_tree_id %q", tk.ID, tk.TaskTreeID)
		}
	}
	if tasks[1].ParentID != "alice/root" || tasks[2].ParentID != "alice/root" || tasks[3].ParentID != "alice/bob/b" {
		t.Errorf("parents %q %q %q", tasks[1].ParentID, tasks[2].ParentID, tasks[3].ParentID)
	}
	if d := tasks[2].Dependencies; len(d) != 1 || d[0] != (task.Dependency{ID: "alice/a", Required: true}) {
		t.Errorf("second's dependencies %+v", d)
	}
	if d := tasks[3].Dependencies; len(d) != 2 || d[0].ID != "alice/a" || d[1].ID != "alice/bob/b" {
		t.Errorf("third's dependencies %+v", d)
	}
	if strings.Join(asked, " ") != "alice/root alice/a alice/bob/b" || strings.Join(askedTree, " ") != "alice/tree" {
		t.Errorf("existence checked for %v and trees %v", asked, askedTree)
	}

	// A duplicate spelled short and qualified is one id.
	_, err = Prepare(context.Background(), []byte(`[{"id": "x", "name": "p", "schemas": {"method": "echo"}},
		{"id": "alice/x", "name": "q", "parent_id": "x", "schemas": {"method": "echo"}}]`), opts)
	_, ps := problemsOf(t, err)
	expectProblems(t, ps, want{code: apferr.InvalidParams, task: "q", field: "id", reason: `duplicate id "alice/x"`})

	// The length limit applies to the qualified id, given or generated.
	long := strings.Repeat("i", MaxIDLen-len("alice/")+1)
	_, err = Prepare(context.Background(), []byte(`{"id": "`+long+`", "name": "l", "schemas": {"method": "echo"}}`), opts)
	_, ps = problemsOf(t, err)
	expectProblems(t, ps, want{task: "l", field: "id", reason: `once qualified with the owner's namespace: "alice/` + long + `"`})
	if _, err := Prepare(context.Background(), []byte(`{"id": "`+long[1:]+`", "name": "l", "schemas": {"method": "echo"}}`), opts); err != nil {
		t.Errorf("an id of exactly %d characters once qualified: %v", MaxIDLen, err)
	}
	opts.Namespace = task.NamespaceOf(strings.Repeat("u", MaxIDLen))
	_, err = Prepare(context.Background(), []byte(`{"name": "g", "schemas": {"method": "echo"}}`), opts)
	_, ps = problemsOf(t, err)
	expectProblems(t, ps, want{code: apferr.InvalidParams, task: "g", field: "id", reason: "the generated id is longer than"})
}

// TestNoNamespaceKeepsIDs: the zero Namespace leaves every id as given.
func TestNoNamespaceKeepsIDs(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	tasks, err := Prepare(context.Background(), []byte(`[{"id": "bob/r", "name": "r", "task_tree_id": "tt", "schemas": {"method": "echo"}},
		{"name": "c", "parent_id": "bob/r", "dependencies": ["r"], "schemas": {"method": "echo"}}]`), opts)
	if err != nil {
		t.Fatal(err)
	}
	if tasks[0].ID != "bob/r" || tasks[1].ID != "gen-1" || tasks[1].ParentID != "bob/r" || tasks[0].TaskTreeID != "tt" || tasks[1].Dependencies[0].ID != "bob/r" {
		t.Fatalf("tasks %+v %+v", tasks[0], tasks[1])
	}
}
