package submit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestTreeBuildsEqualTasks: a Tree builds a new task at every read, equal to the one
// before, and names its root. (TestPrepareBuildsTasks checks the fields of the tasks it
// builds, through Prepare.)
func TestTreeBuildsEqualTasks(t *testing.T) {
	t.Parallel()
	opts, _ := setup(t)
	input := `[
		{"name": "root", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["a", "b"]},
		{"name": "a", "parent_id": "root", "priority": 0, "schemas": {"method": "count"}, "inputs": {"count": 1}},
		{"name": "b", "parent_id": "a", "schemas": {"method": "count"}, "inputs": {"count": 2},
		 "dependencies": [{"name": "a", "required": false}],
		 "schedule_type": "interval", "schedule_expression": "60", "schedule_enabled": true}
	]`
	tree, err := PrepareTree(context.Background(), []byte(input), opts)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Len() != 3 || tree.RootID() != tree.Task(0).ID {
		t.Fatalf("Len %d, RootID %q, want 3 tasks rooted at %q", tree.Len(), tree.RootID(), tree.Task(0).ID)
	}
	wire := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for i := range tree.Len() {
		first, second := tree.Task(i), tree.Task(i)
		if first == second {
			t.Errorf("task %d: the same *task.Task twice, want a new one at each read", i)
		}
		if wire(first) != wire(second) {
			t.Errorf("task %d read twice:\n%s\n%s", i, wire(first), wire(second))
		}
	}
	if !tree.Task(0).HasChildren || !tree.Task(1).HasChildren || tree.Task(2).HasChildren {
		t.Error("has_children is not set on exactly the parents")
	}
	if d := tree.Task(2).Dependencies; len(d) != 1 || d[0].ID != tree.Task(1).ID || d[0].Required {
		t.Errorf("b's dependencies %+v, want a, optional", d)
	}
	if tree.Task(2).NextRunAt.IsZero() {
		t.Error("b's next_run_at is not set")
	}
}

// TestPackIDs: packIDs leaves every id as it was, and packs consecutive ids into one
// backing string as long as they fit in packBytes (so a large tree's ids are few
// objects, and one kept id keeps little alive); an id longer than that stays alone.
func TestPackIDs(t *testing.T) {
	t.Parallel()
	follows := func(a, b string) bool { // b starts where a ends, in one backing string
		return unsafe.Add(unsafe.Pointer(unsafe.StringData(a)), len(a)) == unsafe.Pointer(unsafe.StringData(b))
	}
	for _, n := range []int{0, 1, 2, 57, 300} {
		ids := make([]string, n)
		for i := range ids {
			switch i % 50 {
			case 7:
				ids[i] = strings.Repeat("x", packBytes+1)
			case 8:
				ids[i] = strings.Repeat("y", packBytes-8)
			default:
				ids[i] = fmt.Sprintf("id-%0*d", i%5+20, i) // of varied lengths
			}
		}
		want := slices.Clone(ids)
		packIDs(ids)
		if !slices.Equal(ids, want) {
			t.Fatalf("%d ids: packed %q, want %q", n, ids, want)
		}
		run := 0 // the bytes of the string the id before is packed in, up to its end
		for i, id := range ids {
			fits := i > 0 && run+len(id) <= packBytes
			if follows := i > 0 && follows(ids[i-1], id); follows != fits {
				t.Fatalf("%d ids: id %d packed after id %d: %v, want %v (%d bytes before it, %d of its own)",
					n, i, i-1, follows, fits, run, len(id))
			}
			if fits {
				run += len(id)
			} else {
				run = len(id)
			}
		}
	}
	// A prepared tree's ids are packed (ids of task.NewID: shorter ones may be packed by
	// the allocator already).
	opts, _ := setup(t)
	opts.NewID = nil
	tree, err := PrepareTree(context.Background(), []byte(`[{"name": "r", "schemas": {"method": "count"}, "inputs": {"count": 1}},
		{"name": "a", "parent_id": "r", "schemas": {"method": "count"}, "inputs": {"count": 2}}]`), opts)
	if err != nil {
		t.Fatal(err)
	}
	r, a := tree.Task(0).ID, tree.Task(1).ID
	if unsafe.Add(unsafe.Pointer(unsafe.StringData(r)), len(r)) != unsafe.Pointer(unsafe.StringData(a)) {
		t.Errorf("ids %q and %q of a prepared tree are not packed", r, a)
	}
}
