package pgstore

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// benchTasks returns one tree of n tasks with typical small inputs (as badgerstore's
// benchmarks do, so that the figures compare).
func benchTasks(prefix string, n int) []*task.Task {
	ts := make([]*task.Task, n)
	for i := range ts {
		parent := ""
		if i > 0 {
			parent = prefix + "0"
		}
		x := mk(fmt.Sprintf("%s%d", prefix, i), parent, i)
		x.TaskTreeID, x.UserID = prefix+"tree", "bench"
		x.Inputs = map[string]any{"url": "https://example.com/item", "n": i}
		x.Schemas = map[string]any{"method": "echo"}
		if i > 1 {
			x.Dependencies = []task.Dependency{{ID: fmt.Sprintf("%s%d", prefix, i-1), Required: true}}
		}
		ts[i] = x
	}
	return ts
}

// BenchmarkUpdate measures durable Update throughput with 1, 8 and 64 concurrent
// updaters, each on its own tasks, alternating two fields and a status change: the same
// load as badgerstore's BenchmarkUpdate.
func BenchmarkUpdate(b *testing.B) {
	for _, workers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s, _ := setup(b, Options{})
			ts := benchTasks("u", 1024)
			if err := s.Create(b.Context(), ts); err != nil {
				b.Fatal(err)
			}
			r0, j0 := s.c.rounds.Load(), s.c.jobs.Load()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := 0; ; k++ {
						if next.Add(1) > int64(b.N) {
							return
						}
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
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
			if n := s.c.rounds.Load() - r0; n > 0 {
				b.ReportMetric(float64(s.c.jobs.Load()-j0)/float64(n), "updates/commit")
			}
		})
	}
}

// BenchmarkCreate10k stores one submission of 10,000 tasks per iteration (COPY in one
// transaction), durably.
func BenchmarkCreate10k(b *testing.B) {
	s, _ := setup(b, Options{})
	i := 0
	for b.Loop() {
		b.StopTimer()
		ts := benchTasks(fmt.Sprintf("c%d-", i), 10_000)
		i++
		b.StartTimer()
		if err := s.Create(b.Context(), ts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*10_000)/b.Elapsed().Seconds(), "tasks/s")
}
