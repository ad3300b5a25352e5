package main

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestWriteTreesJSONMatchesWriteJSON: the streaming writer of apflow run --json and
// resume --json writes what writeJSON (one json.Encoder with indentation) wrote before,
// byte for byte, for every shape a tree has.
func TestWriteTreesJSONMatchesWriteJSON(t *testing.T) {
	now := time.Date(2026, 12, 3, 1, 2, 3, 4000, time.UTC)
	mk := func(id string) *task.Task {
		return &task.Task{ID: id, TaskTreeID: "root", Name: "<" + id + "> & “é”", Status: task.Completed,
			Priority: 2, Inputs: map[string]any{"i": 1, "nested": map[string]any{"a": []any{1, "x", nil}}},
			Result: map[string]any{"html": "<b>&</b>", "empty": map[string]any{}}, Schemas: map[string]any{"method": "echo"},
			Dependencies: []task.Dependency{{ID: "a", Required: true}}, CreatedAt: now, UpdatedAt: now}
	}
	leaf := func(id string) *task.TreeNode { return &task.TreeNode{Task: mk(id), Children: []*task.TreeNode{}} }
	nested := &task.TreeNode{Task: mk("root"), Children: []*task.TreeNode{
		leaf("a"),
		{Task: mk("b"), Children: []*task.TreeNode{leaf("b1"), {Task: mk("b2"), Children: []*task.TreeNode{leaf("b21")}}}},
		{Task: mk("nil-children")},
		{Task: nil, Children: []*task.TreeNode{}},
		nil,
		leaf("c"),
	}}
	chain := leaf("chain0")
	for i, n := 1, chain; i < 300; i++ {
		next := leaf(fmt.Sprintf("chain%d", i))
		n.Children = []*task.TreeNode{next}
		n = next
	}
	for _, tc := range []struct {
		name  string
		trees []*task.TreeNode
	}{
		{"lone root", []*task.TreeNode{leaf("root")}},
		{"nested", []*task.TreeNode{nested}},
		{"deep chain", []*task.TreeNode{chain}},
		{"several trees", []*task.TreeNode{nested, leaf("other"), chain}},
		{"root without children slice", []*task.TreeNode{{Task: mk("root")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc any = tc.trees[0]
			if len(tc.trees) > 1 {
				doc = tc.trees
			}
			var want, got bytes.Buffer
			if err := writeJSON(&want, doc); err != nil {
				t.Fatal(err)
			}
			if err := writeTreesJSON(&got, tc.trees); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				i := 0
				for i < min(got.Len(), want.Len()) && got.Bytes()[i] == want.Bytes()[i] {
					i++
				}
				t.Fatalf("differs at byte %d of %d:\ngot  …%q\nwant …%q", i, want.Len(),
					got.Bytes()[max(0, i-80):min(got.Len(), i+80)], want.Bytes()[max(0, i-80):min(want.Len(), i+80)])
			}
		})
	}
}

// BenchmarkTreeJSON is the final tree of apflow run --json for a wide tree of 10,000
// tasks: "encoder" is writeJSON (one json.Encoder with indentation, as before),
// "stream" writeTreesJSON.
func BenchmarkTreeJSON(b *testing.B) {
	now := time.Now().UTC()
	root := &task.TreeNode{Task: &task.Task{ID: "root", Name: "root", Status: task.Completed}, Children: []*task.TreeNode{}}
	for i := 0; i < 10_000; i++ {
		t := &task.Task{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), TaskTreeID: "root", ParentID: "root",
			Name: fmt.Sprintf("c%d", i), Status: task.Completed, Priority: 2, Inputs: map[string]any{"i": i},
			Result: map[string]any{"i": i}, Schemas: map[string]any{"method": "echo"}, Progress: 1,
			CreatedAt: now, UpdatedAt: now, StartedAt: now, CompletedAt: now}
		root.Children = append(root.Children, &task.TreeNode{Task: t, Children: []*task.TreeNode{}})
	}
	trees := []*task.TreeNode{root}
	for _, w := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"encoder", func(w io.Writer) error { return writeJSON(w, root) }},
		{"stream", func(w io.Writer) error { return writeTreesJSON(w, trees) }},
	} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := w.write(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
