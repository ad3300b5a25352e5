package api

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/api/client"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store"
)

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[(len(d)*99)/100]
}

// TestLoad runs 50 concurrent clients, each creating and executing small trees over
// loopback HTTP, and checks that no call fails and no task is lost.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short")
	}
	e := setup(t, setupOpts{})
	const clients, perClient = 50, 4
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := client.New(e.http.URL, "", e.http.Client())
			for j := 0; j < perClient; j++ {
				prefix := fmt.Sprintf("l%d-%d", i, j)
				start := time.Now()
				var res map[string]any
				if err := c.Call(context.Background(), "tasks.execute", map[string]any{"tasks": tree(prefix)}, &res); err != nil {
					errs <- fmt.Errorf("%s: %w", prefix, err)
					return
				}
				d := time.Since(start)
				if res["status"] != "completed" || res["root_task_id"] != prefix+"-root" {
					errs <- fmt.Errorf("%s: %v", prefix, res)
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var count map[string]any
	e.ok(t, "", "tasks.count", map[string]any{}, &count)
	if want := float64(clients * perClient * 3); count["completed"] != want || count["total"] != want {
		t.Fatalf("count = %v, want %v completed", count, want)
	}
	t.Logf("%d executes of 3-task trees by %d clients: p50 %v, p99 %v", len(lat), clients, lat[len(lat)/2], p99(lat))
}

func BenchmarkTasksGet(b *testing.B) {
	e := setup(b, setupOpts{})
	e.ok(b, "", "tasks.create", tree("g"), nil)
	c := client.New(e.http.URL, "", e.http.Client())
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var v taskView
		if err := c.Call(ctx, "tasks.get", map[string]any{"task_id": "g-a"}, &v); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(p99(lat).Microseconds()), "p99-µs")
}

// bigTree is a root with n-1 echo children.
func bigTree(prefix string, n int) []map[string]any {
	out := []map[string]any{{"id": prefix, "name": prefix, "schemas": map[string]any{"method": "echo"}}}
	for i := 1; i < n; i++ {
		out = append(out, map[string]any{"id": fmt.Sprintf("%s-%d", prefix, i), "name": fmt.Sprintf("%s-%d", prefix, i),
			"parent_id": prefix, "schemas": map[string]any{"method": "echo"}, "inputs": map[string]any{"i": i}})
	}
	return out
}

// BenchmarkExecute1000 runs a 1,000-task tree through HTTP tasks.execute and through the
// engine directly, on the same store and engine.
func BenchmarkExecute1000(b *testing.B) {
	e := setup(b, setupOpts{})
	c := client.New(e.http.URL, "", e.http.Client())
	ctx := context.Background()
	var seq atomic.Int64
	b.Run("http", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var res map[string]any
			if err := c.Call(ctx, "tasks.execute", map[string]any{"tasks": bigTree(fmt.Sprintf("h%d", seq.Add(1)), 1000)}, &res); err != nil {
				b.Fatal(err)
			}
			if res["status"] != "completed" {
				b.Fatalf("status %v", res["status"])
			}
		}
	})
	b.Run("engine", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			data := mustJSON(b, bigTree(fmt.Sprintf("d%d", seq.Add(1)), 1000))
			tree, err := e.srv.cfg.Prepare(ctx, data, Owner{})
			if err != nil {
				b.Fatal(err)
			}
			tasks := store.Collect(tree)
			if err := e.srv.cfg.Store.Create(ctx, tasks); err != nil {
				b.Fatal(err)
			}
			res, err := e.eng.Execute(ctx, tasks[0].ID, engine.RunOptions{})
			if err != nil || res.Status != "completed" {
				b.Fatalf("%v %v", res.Status, err)
			}
		}
	})
}
