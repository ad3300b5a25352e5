package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/badgerstore"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// heapProbe is a catalog of one method, "noop", that returns {} at once. When its
// execution number at starts (the run's peak: every other task of a wide tree has
// finished, none is released yet), it collects garbage and records the live heap; with
// profile set it also writes a heap profile there.
type heapProbe struct {
	at      int64
	profile string
	n       atomic.Int64
	live    atomic.Uint64
}

type heapProbeHandle struct{ p *heapProbe }

var noopInfo = &executor.Info{ID: "noop", Kind: "test"}

func (p *heapProbe) Lookup(id string) (executor.Handle, error) {
	if id != "noop" {
		return nil, executor.NotFound(id)
	}
	return heapProbeHandle{p}, nil
}
func (p *heapProbe) List() []*executor.Info { return nil }

func (h heapProbeHandle) Info() *executor.Info { return noopInfo }
func (h heapProbeHandle) Release()             {}
func (h heapProbeHandle) Execute(context.Context, *executor.Request) (*executor.Response, error) {
	if h.p.n.Add(1) == h.p.at {
		h.p.live.Store(liveHeap())
		if h.p.profile != "" {
			if f, err := os.Create(h.p.profile); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				_ = f.Close()
			}
		}
	}
	return &executor.Response{Output: json.RawMessage(`{}`)}, nil
}

// liveHeap collects garbage and returns the bytes of live heap objects.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapRun is what heapMeasure measured of one run.
type heapRun struct {
	tasks    int
	stored   uint64        // live heap after the tree was created, before the run
	peak     uint64        // live heap at the probe
	perTask  float64       // (peak - stored) / tasks: what the run holds per task
	storePer float64       // stored / tasks (the store's copy, plus the test's baseline)
	duration time.Duration // of the run alone
}

// heapMeasure creates the tree of specs (built in batches by shape so that the test
// itself holds no copy) in st, runs it with the probe at execution number at, and
// returns the measures.
func heapMeasure(tb testing.TB, st store.Store, rootID string, tasks int, at int64, create func(store.Store) error) heapRun {
	tb.Helper()
	p := &heapProbe{at: at, profile: os.Getenv("APFLOW_HEAP_PROFILE")}
	e, err := New(Config{Store: st, Catalog: executor.Chain(p)})
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = e.Close(context.Background()) }()
	if err := create(st); err != nil {
		tb.Fatal(err)
	}
	base := liveHeap()
	start := time.Now()
	res, err := e.Execute(context.Background(), rootID, RunOptions{})
	d := time.Since(start)
	if err != nil || res.Status != task.Completed {
		tb.Fatalf("run = %+v, %v", res, err)
	}
	peak := p.live.Load()
	if peak == 0 {
		tb.Fatalf("the probe did not fire (%d executions)", p.n.Load())
	}
	per := (float64(peak) - float64(base)) / float64(tasks)
	return heapRun{tasks: tasks, stored: base, peak: peak, perTask: per, storePer: float64(base) / float64(tasks), duration: d}
}

// createWide stores a root over n no-op children in batches of 10,000 tasks.
func createWide(prefix string, n int) func(store.Store) error {
	return func(st store.Store) error {
		now := time.Now().UTC()
		rootID := prefix + "root"
		mk := func(i int, id, parent string) *task.Task {
			return &task.Task{ID: id, ParentID: parent, TaskTreeID: rootID, Name: id, Status: task.Pending,
				Priority: task.DefaultPriority, Seq: i, CreatedAt: now, UpdatedAt: now,
				Schemas: map[string]any{"method": "noop"}, HasChildren: parent == ""}
		}
		batch := []*task.Task{mk(0, rootID, "")}
		for i := 1; i <= n; i++ {
			batch = append(batch, mk(i, fmt.Sprintf("%sc%d", prefix, i), rootID))
			if len(batch) == 10_000 || i == n {
				if err := st.Create(context.Background(), batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		return nil
	}
}

// BenchmarkWideHeap reports the live Go heap a running wide tree (root over n no-op
// children, in-memory store) holds per task beyond the stored tree, measured after a
// collection when the last child executes.
func BenchmarkWideHeap(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var last heapRun
			for i := 0; b.Loop(); i++ {
				st := memstore.New()
				last = heapMeasure(b, st, fmt.Sprintf("h%d-root", i), n+1, int64(n), createWide(fmt.Sprintf("h%d-", i), n))
				_ = st.Close()
			}
			b.ReportMetric(last.perTask, "run-B/task")
			b.ReportMetric(last.storePer, "stored-B/task")
			b.ReportMetric(float64(last.duration.Microseconds())/float64(last.tasks), "µs/task")
		})
	}
}

// BenchmarkWideHeapBadger is BenchmarkWideHeap on the Badger store (fsync on), below the
// sizes its decoded-task cache and transactions are tuned for.
func BenchmarkWideHeapBadger(b *testing.B) {
	for _, n := range []int{10_000, 30_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var last heapRun
			for i := 0; b.Loop(); i++ {
				st, err := badgerstore.Open(badgerstore.Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				last = heapMeasure(b, st, fmt.Sprintf("h%d-root", i), n+1, int64(n), createWide(fmt.Sprintf("h%d-", i), n))
				_ = st.Close()
			}
			b.ReportMetric(last.perTask, "run-B/task")
			b.ReportMetric(last.storePer, "stored-B/task")
			b.ReportMetric(float64(last.duration.Microseconds())/float64(last.tasks), "µs/task")
		})
	}
}

// createLayered stores a root depending on groups tasks, each depending on its per
// no-op children, in batches of 10,000 tasks: 1 + groups×(per+1) tasks.
func createLayered(prefix string, groups, per int) func(store.Store) error {
	return func(st store.Store) error {
		now := time.Now().UTC()
		rootID := prefix + "root"
		seq := 0
		mk := func(id, parent string, deps []task.Dependency, parentOf bool) *task.Task {
			seq++
			return &task.Task{ID: id, ParentID: parent, TaskTreeID: rootID, Name: id, Status: task.Pending,
				Priority: task.DefaultPriority, Seq: seq - 1, CreatedAt: now, UpdatedAt: now, Dependencies: deps,
				Schemas: map[string]any{"method": "noop"}, HasChildren: parentOf}
		}
		rootDeps := make([]task.Dependency, groups)
		for g := range groups {
			rootDeps[g] = task.Dependency{ID: fmt.Sprintf("%sg%d", prefix, g), Required: true}
		}
		batch := []*task.Task{mk(rootID, "", rootDeps, true)}
		flush := func(force bool) error {
			if len(batch) >= 10_000 || force && len(batch) > 0 {
				if err := st.Create(context.Background(), batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
			return nil
		}
		for g := range groups {
			gid := fmt.Sprintf("%sg%d", prefix, g)
			deps := make([]task.Dependency, per)
			for k := range per {
				deps[k] = task.Dependency{ID: fmt.Sprintf("%sg%d-c%d", prefix, g, k), Required: true}
			}
			batch = append(batch, mk(gid, rootID, deps, true))
			if err := flush(false); err != nil {
				return err
			}
			for k := range per {
				batch = append(batch, mk(deps[k].ID, gid, nil, false))
				if err := flush(false); err != nil {
					return err
				}
			}
		}
		return flush(true)
	}
}

// TestScale runs trees of a million tasks through the engine on the in-memory store: a
// root over 1,000,000 children, and a root over 1,000 groups of 1,000 children (each
// group and the root depend on their children). It logs the time per task next to a
// 10,000-task run of the same shape and the live heap at the run's peak. Set
// APFLOW_SCALE=1 to run it (make bench-scale); it needs several GiB of memory.
func TestScale(t *testing.T) {
	if testing.Short() || os.Getenv("APFLOW_SCALE") == "" {
		t.Skip("set APFLOW_SCALE=1 to run trees of a million tasks")
	}
	cases := []struct {
		name   string
		tasks  int
		create func(prefix string) func(store.Store) error
	}{
		{"wide10k", 10_001, func(p string) func(store.Store) error { return createWide(p, 10_000) }},
		{"wide1M", 1_000_001, func(p string) func(store.Store) error { return createWide(p, 1_000_000) }},
		{"layered10k", 1 + 100*101, func(p string) func(store.Store) error { return createLayered(p, 100, 100) }},
		{"layered1M", 1 + 1000*1001, func(p string) func(store.Store) error { return createLayered(p, 1000, 1000) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			defer st.Close()
			m := heapMeasure(t, st, tc.name+"-root", tc.tasks, int64(tc.tasks-1), tc.create(tc.name+"-"))
			t.Logf("%s: %d tasks in %v: %.1f µs/task; live heap: %.0f MiB stored, %.0f MiB at the peak (%.0f B/task for the run)",
				tc.name, tc.tasks, m.duration.Round(time.Millisecond), float64(m.duration.Microseconds())/float64(tc.tasks),
				float64(m.stored)/(1<<20), float64(m.peak)/(1<<20), m.perTask)
		})
	}
}
