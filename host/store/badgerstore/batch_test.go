package badgerstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// readCounting is a store.Batch that builds a new task at every read and counts the
// reads of each index.
type readCounting struct {
	n     int
	reads []int
}

func (b *readCounting) Len() int { return b.n }

func (b *readCounting) Task(i int) *task.Task {
	b.reads[i]++
	id, parent := fmt.Sprintf("t%05d", i), "t00000"
	if i == 0 {
		parent = ""
	}
	return &task.Task{ID: id, ParentID: parent, TaskTreeID: "t00000", Name: id, Status: task.Pending,
		Priority: task.DefaultPriority, Seq: i, Inputs: map[string]any{"i": i}}
}

// TestCreateBatchReadsEachTaskTwice: CreateBatch and CreateKeyed read each task once to
// check the batch and once to encode it, whether the batch takes one commit or is
// chunked, so that a batch built on demand is never held whole.
func TestCreateBatchReadsEachTaskTwice(t *testing.T) {
	t.Parallel()
	creates := map[string]func(*Store, *readCounting) error{
		"CreateBatch": func(s *Store, b *readCounting) error { return s.CreateBatch(t.Context(), b) },
		"CreateKeyed": func(s *Store, b *readCounting) error {
			now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			return s.CreateKeyed(t.Context(), store.KeyRecord{Key: "k", Digest: "d", RootID: "t00000", TreeID: "t00000",
				Count: b.n, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, b)
		},
	}
	for name, create := range creates {
		for _, n := range []int{1, 10, 5000} {
			s := setup(t, Options{})
			b := &readCounting{n: n, reads: make([]int, n)}
			if err := create(s, b); err != nil {
				t.Fatalf("%s of %d tasks: %v", name, n, err)
			}
			for i, r := range b.reads {
				if r != 2 {
					t.Fatalf("%s of %d tasks: task %d read %d times, want 2", name, n, i, r)
				}
			}
			if got, err := s.Tree(t.Context(), "t00000"); err != nil || len(got) != n {
				t.Fatalf("%s of %d tasks: Tree holds %d, %v", name, n, len(got), err)
			}
		}
	}
}

// TestCreateBatchRefusesABatchThatChanges: a batch whose tasks differ from one read to
// the next (against store.Batch's contract) fails the create, which stores nothing.
func TestCreateBatchRefusesABatchThatChanges(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 5000} {
		s := setup(t, Options{})
		b := &readCounting{n: n, reads: make([]int, n)}
		changing := changingBatch{b}
		if err := s.CreateBatch(t.Context(), changing); err == nil {
			t.Fatalf("%d tasks: CreateBatch of a changing batch succeeded", n)
		}
		if got, err := s.Count(t.Context(), store.Filter{}); err != nil || got != 0 {
			t.Fatalf("%d tasks: %d tasks stored (%v), want none", n, got, err)
		}
	}
}

// changingBatch renames the last task at its second read.
type changingBatch struct{ *readCounting }

func (c changingBatch) Task(i int) *task.Task {
	t := c.readCounting.Task(i)
	if i == c.n-1 && c.reads[i] == 2 {
		t.ID = "renamed"
	}
	return t
}
