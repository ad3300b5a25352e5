package engine

import (
	"fmt"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestGraphNodesInArrays: the nodes of a graph are allocated a block at a time, so that
// a large tree is few objects to the garbage collector, and each is a node of its own.
func TestGraphNodesInArrays(t *testing.T) {
	const n = 10_000
	ts := make([]*task.Task, n)
	for i := range ts {
		ts[i] = &task.Task{ID: fmt.Sprintf("t%d", i), ParentID: "t0", Status: task.Pending}
	}
	ts[0].ParentID = ""
	var g *graph
	allocs := testing.AllocsPerRun(1, func() { g = newGraph(ts) })
	if allocs > n/20 {
		t.Errorf("newGraph of %d tasks made %.0f allocations, want at most %d", n, allocs, n/20)
	}
	seen := make(map[*node]bool, n)
	for i, nd := range g.nodes {
		if seen[nd] || nd.v.id != ts[i].ID || nd.t != ts[i] {
			t.Fatalf("node %d: shared, or not task %s's", i, ts[i].ID)
		}
		seen[nd] = true
	}
}
