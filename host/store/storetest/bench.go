package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// BenchStore is a store opened for a benchmark. Commits, when not nil, returns the
// backend's group-commit counters so far: the commits made and the writes they carried;
// BenchmarkUpdate reports their ratio as updates/commit.
type BenchStore struct {
	Store   store.Store
	Commits func() (commits, writes int64)
}

// BenchTasks returns one tree of n tasks with typical small inputs, task i > 1 depending
// on task i-1, ids prefix+"0" (the root) to prefix+(n-1). Every backend's benchmarks use
// it, so that their figures compare.
func BenchTasks(prefix string, n int) []*task.Task {
	created := time.Date(2025, 1, 1, 0, 0, 0, 123456789, time.UTC)
	ts := make([]*task.Task, n)
	for i := range ts {
		id, parent := fmt.Sprintf("%s%d", prefix, i), ""
		if i > 0 {
			parent = prefix + "0"
		}
		x := &task.Task{
			ID: id, ParentID: parent, TaskTreeID: prefix + "tree", UserID: "bench", Name: id,
			Status: task.Pending, Priority: task.DefaultPriority, Seq: i, CreatedAt: created,
			Inputs:  map[string]any{"url": "https://example.com/item", "n": i},
			Schemas: map[string]any{"method": "echo"},
		}
		if i > 1 {
			x.Dependencies = []task.Dependency{{ID: fmt.Sprintf("%s%d", prefix, i-1), Required: true}}
		}
		ts[i] = x
	}
	return ts
}

// BenchmarkUpdate measures Update throughput with 1, 8 and 64 concurrent updaters, each
// on its own tasks, alternating two fields and a status change. open returns a new,
// empty store and arranges its Close.
func BenchmarkUpdate(b *testing.B, open func(b *testing.B) BenchStore) {
	for _, workers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			bs := open(b)
			ts := BenchTasks("u", 1024)
			if err := bs.Store.Create(b.Context(), ts); err != nil {
				b.Fatal(err)
			}
			var c0, w0 int64
			if bs.Commits != nil {
				c0, w0 = bs.Commits()
			}
			b.ResetTimer()
			updateFrom(b, bs.Store, ts, workers)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			if bs.Commits != nil {
				if c, w := bs.Commits(); c > c0 {
					b.ReportMetric(float64(w-w0)/float64(c-c0), "updates/commit")
				}
			}
		})
	}
}

// updateFrom runs b.N updates of ts from workers goroutines, worker w on tasks w,
// w+workers, w+2*workers, …
func updateFrom(b *testing.B, s store.Store, ts []*task.Task, workers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := 0; next.Add(1) <= int64(b.N); k++ {
				id := ts[(w+k*workers)%len(ts)].ID
				_, err := s.Update(b.Context(), id, func(t *task.Task) error {
					t.RunCount++
					if t.Status == task.Pending {
						t.Status = task.InProgress
					} else {
						t.Status = task.Pending
					}
					return nil
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkCreate stores one submission of n tasks (BenchTasks) per iteration, on one
// store that open returns (new, empty, closed by open's arrangement).
func BenchmarkCreate(b *testing.B, n int, open func(b *testing.B) BenchStore) {
	s := open(b).Store
	i := 0
	for b.Loop() {
		b.StopTimer()
		ts := BenchTasks(fmt.Sprintf("c%d-", i), n)
		i++
		b.StartTimer()
		if err := s.Create(b.Context(), ts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "tasks/s")
}
