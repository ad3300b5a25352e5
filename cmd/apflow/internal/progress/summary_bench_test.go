package progress

import (
	"fmt"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// BenchmarkSummary is the counts line of apflow run's final report for 10,000 tasks with
// inputs and results, as the report reads them from the store.
func BenchmarkSummary(b *testing.B) {
	tasks := []*task.Task{{ID: "root", Status: task.Completed}}
	for i := 0; i < 10_000; i++ {
		tasks = append(tasks, &task.Task{ID: fmt.Sprintf("c%d", i), ParentID: "root", Status: task.Completed,
			Inputs: map[string]any{"i": i, "text": "the quick brown fox"}, Result: map[string]any{"i": i, "n": []any{1, 2, 3}}})
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Summary(tasks)
	}
}
