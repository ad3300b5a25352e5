package badgerstore

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/storetest"
	"github.com/apflow-wasm/apflow/host/task"
)

// openBench opens a new store for storetest's benchmarks, with its commit counters.
func openBench(b *testing.B) storetest.BenchStore {
	s := setup(b, Options{})
	return storetest.BenchStore{Store: s, Commits: func() (int64, int64) { return s.c.batches.Load(), s.c.jobs.Load() }}
}

// BenchmarkCreate10k stores one submission of 10,000 tasks per iteration, durably.
func BenchmarkCreate10k(b *testing.B) { storetest.BenchmarkCreate(b, 10_000, openBench) }

// BenchmarkUpdate measures durable Update throughput with 1, 8 and 64 concurrent
// updaters (storetest.BenchmarkUpdate).
func BenchmarkUpdate(b *testing.B) { storetest.BenchmarkUpdate(b, openBench) }

// BenchmarkList pages through a status filter over 10,000 tasks.
func BenchmarkList(b *testing.B) {
	s := setup(b, Options{})
	if err := s.Create(b.Context(), storetest.BenchTasks("l", 10_000)); err != nil {
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
		ts := storetest.BenchTasks("run", 10_000)
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
