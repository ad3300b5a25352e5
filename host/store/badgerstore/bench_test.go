package badgerstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// benchTasks returns one tree of n tasks with typical small inputs.
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

// BenchmarkCreate10k stores one submission of 10,000 tasks per iteration, durably.
func BenchmarkCreate10k(b *testing.B) {
	s := setup(b, Options{})
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

// BenchmarkUpdate measures durable Update throughput with 1, 8 and 64 concurrent
// updaters, each on its own tasks, alternating two fields and a status change.
func BenchmarkUpdate(b *testing.B) {
	for _, workers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			s := setup(b, Options{})
			ts := benchTasks("u", 1024)
			if err := s.Create(b.Context(), ts); err != nil {
				b.Fatal(err)
			}
			b0, j0 := s.c.batches.Load(), s.c.jobs.Load()
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
			if n := s.c.batches.Load() - b0; n > 0 {
				b.ReportMetric(float64(s.c.jobs.Load()-j0)/float64(n), "updates/commit")
			}
		})
	}
}

// BenchmarkList pages through a status filter over 10,000 tasks.
func BenchmarkList(b *testing.B) {
	s := setup(b, Options{})
	if err := s.Create(b.Context(), benchTasks("l", 10_000)); err != nil {
		b.Fatal(err)
	}
	offset := 0
	for b.Loop() {
		page, total, err := s.List(b.Context(), store.Filter{Status: task.Pending, Limit: 100, Offset: offset})
		if err != nil || len(page) != 100 || total != 10_000 {
			b.Fatalf("List: %d of %d, %v", len(page), total, err)
		}
		offset = (offset + 100) % 10_000
	}
}

// BenchmarkRun10k is a whole run of 10,000 tasks as the engine does it: one Create, then
// start and complete every task from 64 workers. It reports the process's peak RSS.
func BenchmarkRun10k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := setup(b, Options{})
		ts := benchTasks("run", 10_000)
		b.StartTimer()
		if err := s.Create(b.Context(), ts); err != nil {
			b.Fatal(err)
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < int64(len(ts)); i = next.Add(1) - 1 {
					now := time.Now()
					for _, fn := range []func(*task.Task) error{
						func(t *task.Task) error { return t.Start(now) },
						func(t *task.Task) error { t.Progress = 0.5; return nil },
						func(t *task.Task) error { return t.Complete(map[string]any{"ok": true}, now) },
					} {
						if _, err := s.Update(b.Context(), ts[i].ID, fn); err != nil {
							b.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
}

// peakRSSMiB reads VmHWM from /proc/self/status (Linux), or 0 elsewhere.
func peakRSSMiB(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatalf("VmHWM %q: %v", rest, err)
			}
			return float64(kb) / 1024
		}
	}
	return 0
}
