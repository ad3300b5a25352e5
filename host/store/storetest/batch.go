package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// BatchStore is a store that creates a store.Batch without holding it whole
// (store.BatchCreator).
type BatchStore interface {
	store.Store
	store.BatchCreator
}

// RunBatch runs the conformance suite of CreateBatch: the cases of Run that test Create,
// each Create made through CreateBatch of a Batch that builds a new copy of a task at
// every read (as submit.Tree builds its tasks), and the cases of batchCases. newStore
// must return a new, empty store for each call; RunBatch closes it when the subtest
// ends.
func RunBatch[S BatchStore](t *testing.T, newStore func(t *testing.T) S) {
	var all []storeCase[BatchStore]
	for _, c := range cases {
		if fn := c.fn; strings.HasPrefix(c.name, "Create") {
			all = append(all, storeCase[BatchStore]{c.name, func(t *testing.T, s BatchStore) {
				fn(t, batchCreating{Store: s, bc: s})
			}})
		}
	}
	runSuite(t, func(t *testing.T) BatchStore { return newStore(t) }, append(all, batchCases...))
}

var batchCases = []storeCase[BatchStore]{
	{"ManyTasks", testBatchManyTasks},
	{"ReadsEveryTask", testBatchReadsEveryTask},
}

// batchCreating is a store whose Create goes through CreateBatch.
type batchCreating struct {
	store.Store
	bc store.BatchCreator
}

func (s batchCreating) Create(ctx context.Context, tasks []*task.Task) error {
	return s.bc.CreateBatch(ctx, &copying{tasks: tasks})
}

// copying is a Batch that returns a new copy of its task at every read, and counts the
// reads of each index (when reads is not nil).
type copying struct {
	tasks []*task.Task
	reads []atomic.Int64
}

func (c *copying) Len() int { return len(c.tasks) }

func (c *copying) Task(i int) *task.Task {
	if c.reads != nil {
		c.reads[i].Add(1)
	}
	if c.tasks[i] == nil {
		return nil
	}
	return c.tasks[i].Clone()
}

// testBatchManyTasks: a batch larger than one transaction of any backend is stored
// whole, each task as given.
func testBatchManyTasks(t *testing.T, s BatchStore) {
	const n = 5000
	tasks := []*task.Task{mk("root", "", 0)}
	for i := 1; i < n; i++ {
		c := mk(fmt.Sprintf("c%05d", i), "root", i)
		c.Inputs = map[string]any{"i": fmt.Sprint(i)}
		tasks = append(tasks, c)
	}
	if err := s.CreateBatch(ctx(t), &copying{tasks: tasks}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Tree(ctx(t), "tree")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("Tree has %d tasks, want %d", len(got), n)
	}
	for _, id := range []string{"root", "c00001", "c02500", "c04999"} {
		if g, w := wireOf(t, get(t, s, id)), wireOf(t, taskByID(tasks, id)); g != w {
			t.Errorf("task %s stored as\n%s\nwant\n%s", id, g, w)
		}
	}
}

// testBatchReadsEveryTask: every task of the batch is read, and an empty batch stores
// nothing.
func testBatchReadsEveryTask(t *testing.T, s BatchStore) {
	if err := s.CreateBatch(ctx(t), store.Tasks(nil)); err != nil {
		t.Fatalf("CreateBatch of no tasks: %v", err)
	}
	tasks := []*task.Task{mk("root", "", 0), mk("a", "root", 1), mk("b", "root", 2)}
	b := &copying{tasks: tasks, reads: make([]atomic.Int64, len(tasks))}
	if err := s.CreateBatch(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	for i := range b.reads {
		if b.reads[i].Load() == 0 {
			t.Errorf("task %s was never read", tasks[i].ID)
		}
	}
	if n, err := s.Count(ctx(t), store.Filter{}); err != nil || n != 3 {
		t.Errorf("Count = %d, %v; want 3", n, err)
	}
}

func taskByID(tasks []*task.Task, id string) *task.Task {
	for _, t := range tasks {
		if t.ID == id {
			return t
		}
	}
	return nil
}
