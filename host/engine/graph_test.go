package engine

import (
	"fmt"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestGraphNodesInArrays: the nodes of a graph are allocated an array at a time, so that
// a large tree is few objects to the garbage collector; each is a node of its own, and
// arrays hold no more nodes than a graph of the size expected needs, and less than
// twice what any other holds.
func TestGraphNodesInArrays(t *testing.T) {
	tasks := func(n int) []*task.Task {
		ts := make([]*task.Task, n)
		for i := range ts {
			ts[i] = &task.Task{ID: fmt.Sprintf("t%d", i), ParentID: "t0", Status: task.Pending}
		}
		ts[0].ParentID = ""
		return ts
	}
	for _, n := range []int{1, 3, int(maxNodeBlock), int(maxNodeBlock) + 1, 10_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ts := tasks(n)
			var g *graph
			allocs := testing.AllocsPerRun(1, func() { g = newGraph(ts) })
			if n >= 1_000 && allocs > float64(n/20) {
				t.Errorf("newGraph of %d tasks made %.0f allocations, want at most %d", n, allocs, n/20)
			}
			if len(g.block) != 0 {
				t.Errorf("a graph of the %d tasks expected left %d nodes unused", n, len(g.block))
			}
			seen := make(map[*node]bool, n)
			for i, nd := range g.nodes {
				if seen[nd] || nd.v.id != ts[i].ID || nd.t != ts[i] {
					t.Fatalf("node %d: shared, or not task %s's", i, ts[i].ID)
				}
				seen[nd] = true
			}
			// A graph whose size is not known (a tree read from the store).
			g = &graph{ids: newIDIndex(0), root: -1}
			for _, x := range ts {
				g.add(x)
			}
			if len(g.block) >= max(len(g.nodes), 2) {
				t.Errorf("a graph of %d tasks not expected left %d nodes unused", n, len(g.block))
			}
		})
	}
}
