package scheduler

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// recorder is an EngineRunner that keeps the done channels of the runs it started.
type recorder struct {
	EngineRunner
	mu   sync.Mutex
	runs []<-chan struct{}
}

func (r *recorder) Fire(ctx context.Context, t *task.Task) (<-chan struct{}, error) {
	done, err := r.EngineRunner.Fire(ctx, t)
	if err == nil {
		r.mu.Lock()
		r.runs = append(r.runs, done)
		r.mu.Unlock()
	}
	return done, err
}

func (r *recorder) waitAll(t *testing.T) int {
	t.Helper()
	r.mu.Lock()
	runs := append([]<-chan struct{}(nil), r.runs...)
	r.mu.Unlock()
	for _, done := range runs {
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("a scheduled run did not end")
		}
	}
	return len(runs)
}

// TestScheduledRunsResetTheTree: each fire re-runs the whole tree through the engine
// (children reset and executed again, not kept with their old results), and the claim's
// bookkeeping and the engine's writes to the root both survive, also when the scheduler
// writes the root (an overlap skip) while the engine runs the tree.
func TestScheduledRunsResetTheTree(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	c := &clock{t: t0}
	eng, err := engine.New(engine.Config{Store: st, Catalog: builtin.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	r := &recorder{EngineRunner: EngineRunner{Engine: eng, Store: st}}
	s, err := New(Config{Store: st, Runner: r, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	agg := map[string]any{"method": "aggregate_results_executor"}
	root := &task.Task{ID: "r", TaskTreeID: "r", Name: "r", Status: task.Pending, Priority: 2, Schemas: agg, HasChildren: true,
		Dependencies: []task.Dependency{{ID: "c", Required: true}}, CreatedAt: t0,
		ScheduleType: "interval", ScheduleExpression: "60", ScheduleEnabled: true, NextRunAt: t0.Add(time.Minute)}
	child := &task.Task{ID: "c", ParentID: "r", TaskTreeID: "r", Name: "c", Status: task.Pending, Priority: 2, Schemas: agg, CreatedAt: t0, Seq: 1}
	if err := st.Create(context.Background(), []*task.Task{root, child}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		c.Add(time.Minute)
		if err := s.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The next occurrence comes due at once; the tree may still be running, then it
		// is an overlap the scheduler writes to the root during the run.
		c.Add(time.Minute)
		if err := s.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.waitAll(t)
	}
	gotRoot, _ := st.Get(context.Background(), "r")
	gotChild, _ := st.Get(context.Background(), "c")
	fires := int(s.Stats().Fired)
	if fires < 2 || gotRoot.RunCount != fires || gotRoot.Status != task.Completed || gotRoot.Run != nil {
		t.Fatalf("fires %d; root: run_count %d, status %s, run marker %v; want run_count = fires >= 2, completed, no marker",
			fires, gotRoot.RunCount, gotRoot.Status, gotRoot.Run)
	}
	if gotChild.Attempts != fires || gotChild.Status != task.Completed {
		t.Fatalf("child: attempts %d, status %s; want it re-run on each of the %d fires", gotChild.Attempts, gotChild.Status, fires)
	}
	if want := t0.Add(5 * time.Minute); !gotRoot.NextRunAt.Equal(want) {
		t.Fatalf("next_run_at %s, want %s", gotRoot.NextRunAt, want)
	}
}
