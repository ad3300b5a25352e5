package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store/badgerstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// benchEngine returns an engine on a durable Badger store (fsync on every commit) in a
// temporary directory, with the in-process no-op executor.
func benchEngine(b *testing.B) (*Engine, *badgerstore.Store) {
	b.Helper()
	st, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{Store: st, Catalog: executor.Chain(newFakeCatalog())})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = e.Close(context.Background())
		_ = st.Close()
	})
	return e, st
}

// benchTree builds one tree per iteration: shape returns the specs for prefix p.
func runBench(b *testing.B, tasksPerRun int, shape func(p string) []spec) {
	e, st := benchEngine(b)
	ctx := context.Background()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		specs := shape(fmt.Sprintf("r%d-", i))
		tasks := buildTree(specs)
		// One submission, however big: the store splits what exceeds a transaction.
		if err := st.Create(ctx, tasks); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		res, err := e.Execute(ctx, specs[0].id, RunOptions{})
		total += time.Since(start)
		if err != nil || res.Status != task.Completed {
			b.Fatalf("run = %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(tasksPerRun*b.N)/total.Seconds(), "tasks/s")
	b.ReportMetric(float64(total.Microseconds())/float64(tasksPerRun*b.N), "µs/task")
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

// peakRSSMiB reads VmHWM from /proc/self/status (Linux), or 0 elsewhere.
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				return 0
			}
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkFsync is the floor of a chain hop under docs/semantics.md rule 17: one durable write
// (a small append and fsync of a file on the disk the benchmarks' stores use).
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 512)
	for b.Loop() {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

func wide(n int) func(string) []spec {
	return func(p string) []spec {
		specs := []spec{{id: p + "root", method: "noop"}}
		for i := 0; i < n; i++ {
			specs = append(specs, spec{id: fmt.Sprintf("%sc%d", p, i), method: "noop"})
		}
		return specs
	}
}

func chain(n int) func(string) []spec {
	return func(p string) []spec {
		specs := []spec{{id: p + "root", method: "noop", deps: req(fmt.Sprintf("%sc%d", p, n-1))}}
		for i := 0; i < n; i++ {
			s := spec{id: fmt.Sprintf("%sc%d", p, i), method: "noop"}
			if i > 0 {
				s.deps = req(fmt.Sprintf("%sc%d", p, i-1))
			}
			specs = append(specs, s)
		}
		return specs
	}
}

func fanIn(n int) func(string) []spec {
	return func(p string) []spec {
		var deps []string
		for i := 0; i < n; i++ {
			deps = append(deps, fmt.Sprintf("%sc%d", p, i))
		}
		specs := []spec{{id: p + "root", method: "noop", deps: req(deps...)}}
		for _, id := range deps {
			specs = append(specs, spec{id: id, method: "noop"})
		}
		return specs
	}
}

func BenchmarkWide10k(b *testing.B)   { runBench(b, 10_001, wide(10_000)) }
func BenchmarkWide100k(b *testing.B)  { runBench(b, 100_001, wide(100_000)) }
func BenchmarkChain1k(b *testing.B)   { runBench(b, 1_001, chain(1_000)) }
func BenchmarkChain10k(b *testing.B)  { runBench(b, 10_001, chain(10_000)) }
func BenchmarkFanIn200(b *testing.B)  { runBench(b, 201, fanIn(200)) }
func BenchmarkFanIn2000(b *testing.B) { runBench(b, 2_001, fanIn(2_000)) }
