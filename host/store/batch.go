package store

import (
	"context"

	"github.com/apflow-wasm/apflow/host/task"
)

// Batch is the tasks of one submission, read one at a time by index, so that a large
// submission need not be held whole as tasks: submit.Tree builds each task when it is
// read. A slice is a Batch through Tasks.
//
// Task may build a new *task.Task at every call; the tasks it returns for one index are
// equal. Readers must not modify them, and may read an index more than once.
type Batch interface {
	// Len is the number of tasks.
	Len() int
	// Task returns the task at index i, 0 <= i < Len().
	Task(i int) *task.Task
}

// Tasks is the Batch of a slice of tasks.
type Tasks []*task.Task

// Len implements Batch.
func (ts Tasks) Len() int { return len(ts) }

// Task implements Batch.
func (ts Tasks) Task(i int) *task.Task { return ts[i] }

// Collect returns the tasks of b in a slice: b itself when it is Tasks.
func Collect(b Batch) []*task.Task {
	if ts, ok := b.(Tasks); ok {
		return ts
	}
	out := make([]*task.Task, b.Len())
	for i := range out {
		out[i] = b.Task(i)
	}
	return out
}

// BatchCreator is a store that creates a Batch without holding it whole (badgerstore):
// CreateBatch is Create of the tasks of b, in order, with Create's guarantees and
// errors. A caller with a large submission built on demand (apflow run) uses it when
// its store has it, and Create of Collect(b) otherwise.
type BatchCreator interface {
	CreateBatch(ctx context.Context, b Batch) error
}

// CreateBatch creates b in st: with st's CreateBatch when it is a BatchCreator, else
// with Create of Collect(b).
func CreateBatch(ctx context.Context, st Store, b Batch) error {
	if bc, ok := st.(BatchCreator); ok {
		return bc.CreateBatch(ctx, b)
	}
	return st.Create(ctx, Collect(b))
}
