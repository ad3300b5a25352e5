package api

import (
	"strings"
	"testing"
)

// tasks.cancel and tasks.running.status take a list of ids; one small request must not
// buy an unbounded number of store lookups (and an answer many times its size).
func TestTaskIDListsAreBounded(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	many := make([]string, maxTaskIDs+1)
	for i := range many {
		many[i] = "x"
	}
	for _, method := range []string{"tasks.cancel", "tasks.running.cancel", "tasks.running.status"} {
		for name, ids := range map[string]any{"array": many, "string": strings.Join(many, ",")} {
			je := e.fails(t, "", method, map[string]any{"task_ids": ids}, -32602)
			d, _ := je.Data.(map[string]any)
			if d["field"] != "task_ids" {
				t.Errorf("%s with %s: data %v does not name task_ids", method, name, je.Data)
			}
		}
		var res []map[string]any
		e.ok(t, "", method, map[string]any{"task_ids": many[:maxTaskIDs]}, &res)
		if len(res) != maxTaskIDs {
			t.Errorf("%s with %d ids: %d answers", method, maxTaskIDs, len(res))
		}
	}
}
