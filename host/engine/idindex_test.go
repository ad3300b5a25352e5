package engine

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestIDIndex: a graph finds each node by its task's id, and nothing for an id it does
// not hold, whether the ids' hashes are distinct or all the same; a task added twice is
// found at its last node, as in a map.
func TestIDIndex(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash func(string) uint64 // nil: the index's own
	}{
		{"hashes of a seed", nil},
		{"every hash the same", func(string) uint64 { return 7 }},
		{"two hashes", func(id string) uint64 { return uint64(len(id) % 2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &graph{ids: newIDIndex(0), root: -1}
			if tc.hash != nil {
				g.ids.hash = tc.hash
			}
			ids := []string{"", "a", "bb", "a-2", "root", "a"} // "a" twice: the last wins
			for _, id := range ids {
				g.add(&task.Task{ID: id, Status: task.Pending})
			}
			want := map[string]int32{"": 0, "a": 5, "bb": 2, "a-2": 3, "root": 4}
			for id, i := range want {
				if got, ok := g.lookup(id); !ok || got != i {
					t.Errorf("lookup(%q) = %d, %v; want %d", id, got, ok, i)
				}
			}
			for _, id := range []string{"b", "a-3", "roo", "x"} {
				if got, ok := g.lookup(id); ok {
					t.Errorf("lookup(%q) = %d, want none", id, got)
				}
			}
		})
	}
}
