package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/pgstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// BenchmarkBackends runs the same trees, in one run of the benchmark binary, on Badger
// (one process), on PostgreSQL as a plain store (one process, no cluster), and on
// clusters of 1, 2 and 3 nodes sharing one PostgreSQL (in this process: the nodes share
// its CPUs). Each node has DefaultConcurrency slots. Reported per task: tasks/s, µs/task
// and, on PostgreSQL, database round trips (every query, pipelined batch and COPY of
// every node's pool; the notice listeners are not counted).
func BenchmarkBackends(b *testing.B) {
	shapes := []struct {
		name  string
		tasks int
		shape func(string) []spec
	}{
		{"wide10k", 10_001, wide(10_000)},
		{"chain1k", 1_001, chain(1_000)},
		{"fanin200", 201, fanIn(200)},
	}
	for _, sh := range shapes {
		b.Run(sh.name+"/badger", func(b *testing.B) { runBench(b, sh.tasks, sh.shape) })
		b.Run(sh.name+"/postgres", func(b *testing.B) {
			st := benchPG(b, pg.Database(b))
			e, err := New(Config{Store: st, Catalog: executor.Chain(newFakeCatalog())})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = e.Close(context.Background()) })
			runOn(b, e, st, []*pgstore.Store{st}, sh.tasks, sh.shape)
		})
		for n := 1; n <= 3; n++ {
			b.Run(fmt.Sprintf("%s/cluster-%d", sh.name, n), func(b *testing.B) {
				dsn := pg.Database(b)
				var engines []*Engine
				var stores []*pgstore.Store
				for i := range n {
					st := benchPG(b, dsn)
					node, err := pgstore.Join(context.Background(), st, pgstore.NodeOptions{ID: fmt.Sprintf("bench-%d", i)})
					if err != nil {
						b.Fatal(err)
					}
					e, err := New(Config{Store: st, Catalog: executor.Chain(newFakeCatalog()), Cluster: node})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = e.Close(context.Background()) })
					engines, stores = append(engines, e), append(stores, st)
				}
				runOn(b, engines[0], stores[0], stores, sh.tasks, sh.shape)
			})
		}
	}
}

func benchPG(b *testing.B, dsn string) *pgstore.Store {
	b.Helper()
	st, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

// runOn is runBench on a given engine and store, counting the round trips of stores.
func runOn(b *testing.B, e *Engine, st store.Store, stores []*pgstore.Store, tasksPerRun int, shape func(string) []spec) {
	ctx := context.Background()
	var total time.Duration
	var trips int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		specs := shape(fmt.Sprintf("r%d-", i))
		if err := st.Create(ctx, buildTree(specs)); err != nil {
			b.Fatal(err)
		}
		before := roundTrips(stores)
		b.StartTimer()
		start := time.Now()
		res, err := e.Execute(ctx, specs[0].id, RunOptions{})
		total += time.Since(start)
		trips += roundTrips(stores) - before
		if err != nil || res.Status != task.Completed {
			b.Fatalf("run = %+v, %v", res, err)
		}
	}
	n := float64(tasksPerRun * b.N)
	b.ReportMetric(n/total.Seconds(), "tasks/s")
	b.ReportMetric(float64(total.Microseconds())/n, "µs/task")
	b.ReportMetric(float64(trips)/n, "round-trips/task")
}

func roundTrips(stores []*pgstore.Store) int64 {
	var n int64
	for _, s := range stores {
		n += s.RoundTrips()
	}
	return n
}

// BenchmarkTakeover measures how long a run stands still after the node coordinating it
// dies (its connections cut, nothing released), with the default lease and heartbeat:
// from the death to the end of the run on the surviving node. The tree is a root over
// one child; the survivor executes the child (the dead node only coordinates), and
// finishing the run needs a coordinator: settle the child, then run the root.
func BenchmarkTakeover(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dsn := pg.Database(b)
		stA := benchPG(b, dsn)
		nodeA, err := pgstore.Join(context.Background(), stA, pgstore.NodeOptions{ID: "dies"})
		if err != nil {
			b.Fatal(err)
		}
		a, err := New(Config{Store: stA, Catalog: executor.Chain(newFakeCatalog()), Cluster: nodeA, ClusterClient: true})
		if err != nil {
			b.Fatal(err)
		}
		stB := benchPG(b, dsn)
		nodeB, err := pgstore.Join(context.Background(), stB, pgstore.NodeOptions{ID: "survives"})
		if err != nil {
			b.Fatal(err)
		}
		catB := newFakeCatalog()
		bEng, err := New(Config{Store: stB, Catalog: executor.Chain(catB), Cluster: nodeB})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_ = a.Close(context.Background())
			_ = bEng.Close(context.Background())
		})
		tree := buildTree([]spec{{id: "t", method: "noop"}, {id: "t-c", parent: "t", params: map[string]any{"gate": true}}})
		if err := stA.Create(context.Background(), tree); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Start(context.Background(), "t", RunOptions{}); err != nil {
			b.Fatal(err)
		}
		for !hasStatus(stB, "t-c", task.InProgress) { // b executes the child
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
		start := time.Now()
		_ = stA.Close() // node a dies with the run's lease
		close(catB.gate)
		for !hasStatus(stB, "t", task.Completed) {
			time.Sleep(10 * time.Millisecond)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s-to-finish")
	}
}

func hasStatus(st store.Store, id string, want task.Status) bool {
	t, err := st.Get(context.Background(), id)
	return err == nil && t.Status == want
}
