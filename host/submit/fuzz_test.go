package submit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

// FuzzPrepare feeds arbitrary bytes to the decoder and validator. Prepare must never
// panic, and must return either a valid tree of tasks or an *apferr.Error.
func FuzzPrepare(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "trees", "*.json"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		`[]`, `{}`, `{"tasks": []}`, `null`, `[{"name": "a", "schemas": {"method": "echo"}}]`,
		`[{"name": "a", "dependencies": ["a"], "schemas": {"method": "echo"}}]`,
		`[{"name": "a", "schemas": {"method": "count"}, "inputs": {"count": "x"}}]`,
		`[{"name": "r", "schemas": {"method": "echo", "input_schema": {"$ref": "#/definitions/x", "definitions": {"x": {"$ref": "#/definitions/x"}}}}}]`,
	} {
		f.Add([]byte(s))
	}
	cat := newFakeCatalog(f, testExecutors)
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := Options{Catalog: cat, MaxBytes: 1 << 20, MaxProblems: 50}
		tasks, err := Prepare(context.Background(), data, opts)
		if err != nil {
			var ae *apferr.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %T %v is not an *apferr.Error", err, err)
			}
			if tasks != nil {
				t.Fatal("tasks returned with an error")
			}
			return
		}
		checkTree(t, tasks)
	})
}

// checkTree verifies the invariants of a prepared tree.
func checkTree(t *testing.T, tasks []*task.Task) {
	t.Helper()
	if len(tasks) == 0 {
		t.Fatal("no tasks and no error")
	}
	ids := map[string]int{}
	roots := 0
	for i, tk := range tasks {
		if _, dup := ids[tk.ID]; dup || tk.ID == "" {
			t.Fatalf("task %d: bad or duplicate id %q", i, tk.ID)
		}
		ids[tk.ID] = i
		if tk.ParentID == "" {
			roots++
		}
	}
	if roots != 1 {
		t.Fatalf("%d roots", roots)
	}
	for _, tk := range tasks {
		if tk.TaskTreeID != tasks[0].TaskTreeID || tk.Status != "pending" || tk.Priority < 0 || tk.Priority > 3 || tk.Method() == "" {
			t.Fatalf("task %+v", tk)
		}
		if tk.ParentID != "" {
			if _, ok := ids[tk.ParentID]; !ok {
				t.Fatalf("dangling parent %q", tk.ParentID)
			}
		}
		for _, d := range tk.Dependencies {
			if _, ok := ids[d.ID]; !ok || d.ID == tk.ID {
				t.Fatalf("bad dependency %q of %q", d.ID, tk.ID)
			}
		}
	}
	if len(depCycles(depGraph(tasks, ids))) != 0 {
		t.Fatal("dependency cycle accepted")
	}
	parent := make([]int, len(tasks))
	for i, tk := range tasks {
		parent[i] = -1
		if tk.ParentID != "" {
			parent[i] = ids[tk.ParentID]
		}
	}
	if len(parentCycles(parent)) != 0 {
		t.Fatal("parent cycle accepted")
	}
}

func depGraph(tasks []*task.Task, ids map[string]int) [][]int {
	g := make([][]int, len(tasks))
	for i, tk := range tasks {
		for _, d := range tk.Dependencies {
			g[i] = append(g[i], ids[d.ID])
		}
	}
	return g
}
