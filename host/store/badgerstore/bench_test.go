package badgerstore

import (
	"encoding/json"
	"fmt"
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

// BenchmarkRunsPage100k is what the dashboard's Runs page asks of a store holding
// 100,000 trees of three tasks each, one third of them completed: the first and the
// last page of roots, the roots per status, one tree's tasks per status.
func BenchmarkRunsPage100k(b *testing.B) {
	s := setup(b, Options{})
	const trees = 100_000
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var batch []*task.Task
	for i := range trees {
		root := "r" + strconv.Itoa(i)
		status := task.Pending
		if i%3 == 0 {
			status = task.Completed
		}
		for k, id := range []string{root, root + "-a", root + "-b"} {
			parent := root
			if k == 0 {
				parent = ""
			}
			batch = append(batch, &task.Task{ID: id, ParentID: parent, TaskTreeID: root, Name: "tree " + id, Status: status,
				Priority: task.DefaultPriority, Seq: k, CreatedAt: created.Add(time.Duration(i) * time.Second),
				Schemas: map[string]any{"method": "echo"}})
		}
		if len(batch) >= 3000 || i == trees-1 {
			if err := s.Create(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"first-page", func() error {
			_, _, err := s.List(b.Context(), store.Filter{RootOnly: true, Limit: 51})
			return err
		}},
		{"last-page", func() error {
			_, _, err := s.List(b.Context(), store.Filter{RootOnly: true, Limit: 51, Offset: trees - 50})
			return err
		}},
		{"roots-per-status", func() error {
			for _, st := range task.Statuses {
				if _, err := s.Count(b.Context(), store.Filter{RootOnly: true, Status: st}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"one-tree-per-status", func() error {
			for _, st := range task.Statuses {
				if _, err := s.Count(b.Context(), store.Filter{TreeID: "r500", Status: st}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"search-by-name", func() error {
			_, _, err := s.List(b.Context(), store.Filter{RootOnly: true, Name: "tree r9999", Limit: 51})
			return err
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdateIndexWrites computes the index writes of one change of a task, as the
// committer does for every task of every round (changeEntries, appendDiff): a status
// change (running → completed) of a child with a dependency and of an aggregator of
// 1,000 tasks, whose dependents entries it leaves out, and a change of one of the
// aggregator's dependencies, which compares them all.
func BenchmarkUpdateIndexWrites(b *testing.B) {
	now := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	withDeps := func(n int) *task.Task {
		x := mk("c", "root", 2)
		for i := range n {
			x.Dependencies = append(x.Dependencies, task.Dependency{ID: fmt.Sprintf("b%d", i), Required: true})
		}
		if err := x.Start(now); err != nil {
			b.Fatal(err)
		}
		return x
	}
	complete := func(x *task.Task) {
		if err := x.Complete(map[string]any{"ok": true}, now); err != nil {
			b.Fatal(err)
		}
	}
	benches := []struct {
		name   string
		cur    *task.Task
		change func(*task.Task)
		writes int
	}{
		{"child", withDeps(1), complete, 4},              // the task, its status entry moved, its tree entry
		{"aggregator-1000", withDeps(1000), complete, 4}, // the same
		{"aggregator-1000-dependency-replaced", withDeps(1000), func(x *task.Task) { x.Dependencies[500].ID = "new" }, 3},
	}
	for _, bc := range benches {
		b.Run(bc.name, func(b *testing.B) {
			next := bc.cur.Clone()
			bc.change(next)
			value, ws := []byte("v"), make([]write, 0, writesPerChange)
			b.ReportAllocs()
			for b.Loop() {
				old, entries := changeEntries(bc.cur, next)
				ws = appendDiff(ws[:0], old, encoded{id: next.ID, value: value, entries: entries})
				if len(ws) != bc.writes {
					b.Fatalf("%d writes, want %d", len(ws), bc.writes)
				}
			}
		})
	}
}

// BenchmarkUpdateValue encodes the stored value of a completed child task (marshalTask):
// its binary fields and the JSON tail without its zero members, as every write of a task
// does.
func BenchmarkUpdateValue(b *testing.B) {
	now := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	x := mk(task.NewID(), task.NewID(), 3)
	x.TaskTreeID = x.ParentID
	x.Dependencies = []task.Dependency{{ID: task.NewID(), Required: true}}
	x.Inputs = map[string]any{"i": json.Number("7")}
	x.Schemas = map[string]any{"method": "echo"}
	if err := x.Start(now); err != nil {
		b.Fatal(err)
	}
	if err := x.Complete(map[string]any{"i": json.Number("7")}, now); err != nil {
		b.Fatal(err)
	}
	x.Usage = &task.Usage{DurationMS: 0.2, PeakMemoryPages: 17}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := marshalTask(x); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeleteTree10k deletes 10,000 tasks that logged a line each, durably: the
// Delete's commit, then the reclaim of their lines' room (reclaimLogs).
func BenchmarkDeleteTree10k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := setup(b, Options{})
		ids := loggedTasks(b, s, "del", 10_000)
		b.StartTimer()
		if err := s.Delete(b.Context(), ids); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueueLogsWide appends one line to each of 1,000 tasks in one QueueLogs call,
// as a wide tree's round does with the last lines of its outcomes: each task's first
// line, durably. ns/op is a round's.
func BenchmarkQueueLogsWide(b *testing.B) {
	s := setup(b, Options{})
	b.ReportAllocs()
	n := 0
	line := store.LogLine{Time: time.Unix(1_800_000_000, 0).UTC(), Source: "executor", Level: "info", Message: "echo called: executor=echo task=01a250dd-b26e-7ecf-a466-25dea4a29883"}
	bounds := store.LogBounds{MaxLines: 1000, MaxBytes: 1 << 20}
	for b.Loop() {
		appends := make([]store.LogAppend, 1000)
		for i := range appends {
			n++
			appends[i] = store.LogAppend{TaskID: fmt.Sprintf("t%08d", n), Lines: []store.LogLine{line}}
		}
		for _, r := range s.QueueLogs(b.Context(), appends, bounds)() {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
}
