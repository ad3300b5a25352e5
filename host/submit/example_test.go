package submit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/submit"
)

// A tree file names tasks and refers to them by name; Prepare resolves the names to ids
// and keeps each name as the key its dependency's result is injected under.
func ExamplePrepare() {
	tree := []byte(`[
		{"id": "report", "name": "report", "schemas": {"method": "aggregate_results_executor"},
		 "dependencies": ["cpu", {"name": "memory", "required": false}]},
		{"id": "cpu-1", "name": "cpu", "parent_id": "report", "priority": 0, "schemas": {"method": "system_info_executor"}},
		{"id": "mem-1", "name": "memory", "parent_id": "report", "schemas": {"method": "system_info_executor"},
		 "params": {"limits": {"timeout_ms": 2000}}}
	]`)
	tasks, err := submit.Prepare(context.Background(), tree, submit.Options{
		Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range tasks {
		fmt.Printf("%s parent=%q priority=%d deps=%v timeout=%dms\n", t.ID, t.ParentID, t.Priority, t.Dependencies, t.Limits.TimeoutMS)
	}
	// Output:
	// report parent="" priority=2 deps=[{cpu-1 true cpu} {mem-1 false memory}] timeout=0ms
	// cpu-1 parent="report" priority=0 deps=[] timeout=0ms
	// mem-1 parent="report" priority=2 deps=[] timeout=2000ms
}

// Every problem of a submission is reported at once; the code is that of the first class.
func ExamplePrepare_problems() {
	tree := []byte(`[
		{"name": "a", "schemas": {"method": "echo"}, "dependencies": ["b"]},
		{"name": "b", "parent_id": "a", "schemas": {"method": "echo"}, "dependencies": ["a"], "priority": 7}
	]`)
	_, err := submit.Prepare(context.Background(), tree, submit.Options{})
	fmt.Println(apferr.CodeOf(err))
	fmt.Println(err)
	// Output:
	// Circular dependency
	// task tree validation failed: 2 problem(s)
	//   - task "a": dependencies: circular dependency: each task of the cycle waits for the next (a -> b -> a)
	//   - task "b": priority: Value out of range: 0 is the most urgent, 3 the least
}
