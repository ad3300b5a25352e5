package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// progressStore is a memstore that counts the writes of a running task's progress and
// makes them wait for release when hold is set.
type progressStore struct {
	*memstore.Store
	hold    bool
	release chan struct{}

	mu     sync.Mutex
	writes int
}

func (s *progressStore) Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	if cur, err := s.Store.Get(ctx, id); err == nil && cur.Status == task.InProgress {
		probe := cur.Clone()
		if fn(probe) == nil && probe.Status == task.InProgress && probe.Progress != cur.Progress {
			s.mu.Lock()
			s.writes++
			s.mu.Unlock()
			if s.hold {
				<-s.release
			}
		}
	}
	return s.Store.Update(ctx, id, fn)
}

func (s *progressStore) progressWrites() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func withProgressInterval(d time.Duration) option {
	return func(c *Config) { c.ProgressInterval = d }
}

// TestProgressOffTheCriticalPath: an executor's progress call does not wait for the
// store; the progress of a running task is stored within the interval; a task that ends
// before that stores none (its outcome sets it), yet its progress events are published.
func TestProgressOffTheCriticalPath(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, hold bool, interval time.Duration) (*env, *progressStore) {
		mem := memstore.New()
		t.Cleanup(func() { _ = mem.Close() })
		st := &progressStore{Store: mem, hold: hold, release: make(chan struct{})}
		v := setupStore(t, st, withProgressInterval(interval))
		t.Cleanup(func() { close(st.release) }) // runs before the engine's Close
		return v, st
	}

	t.Run("the executor does not wait for the write", func(t *testing.T) {
		t.Parallel()
		v, st := setup(t, true, time.Millisecond)
		root := v.create(spec{id: "r", params: map[string]any{"progress": []any{0.5}, "gate": true}})
		res := make(chan RunResult, 1)
		go func() { res <- v.run(root, RunOptions{}) }()
		waitFor(t, "the progress write held", func() bool { return st.progressWrites() == 1 })
		close(v.cat.gate) // the executor goes on while its progress write waits
		select {
		case r := <-res:
			if r.Status != task.Completed {
				t.Fatalf("run = %+v", r)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the task did not complete while its progress write was held")
		}
		if got := v.get("r"); got.Progress != 1 {
			t.Fatalf("progress of the completed task = %v", got.Progress)
		}
	})

	t.Run("stored while running", func(t *testing.T) {
		t.Parallel()
		v, _ := setup(t, false, 5*time.Millisecond)
		root := v.create(spec{id: "r", params: map[string]any{"progress": []any{0.25}, "gate": true}})
		res := make(chan RunResult, 1)
		go func() { res <- v.run(root, RunOptions{}) }()
		waitFor(t, "the progress stored", func() bool {
			got := v.get("r")
			return got.Status == task.InProgress && got.Progress == 0.25
		})
		close(v.cat.gate)
		if r := <-res; r.Status != task.Completed || v.get("r").Progress != 1 {
			t.Fatalf("run = %+v, progress %v", r, v.get("r").Progress)
		}
	})

	t.Run("a task that ends first stores none", func(t *testing.T) {
		t.Parallel()
		v, st := setup(t, false, time.Hour)
		events, stop := v.e.Subscribe("r")
		defer stop()
		v.run(v.create(spec{id: "r", params: map[string]any{"progress": []any{0.5}}}), RunOptions{})
		if n := st.progressWrites(); n != 0 {
			t.Fatalf("progress writes = %d, want 0", n)
		}
		for ev := range events {
			if ev.Type == EventTaskProgress {
				if ev.Progress != 0.5 || ev.Task == nil || ev.Task.Status != task.InProgress || ev.Task.Progress != 0.5 {
					t.Fatalf("progress event = %+v", ev)
				}
				return
			}
			if ev.Type == EventRunEnd {
				t.Fatal("no progress event before run_end")
			}
		}
	})

	t.Run("Close with notes pending", func(t *testing.T) {
		t.Parallel()
		v, st := setup(t, false, time.Hour)
		root := v.create(spec{id: "r", params: map[string]any{"progress": []any{0.5}, "block": true}})
		go func() { _, _ = v.e.Execute(context.Background(), root, RunOptions{}) }() // the test checks the store
		waitFor(t, "the task running", func() bool { return v.get("r").Status == task.InProgress })
		time.Sleep(10 * time.Millisecond) // its progress noted
		// Close interrupts the blocked task once its deadline passes.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := v.e.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if n := st.progressWrites(); n != 0 {
			t.Fatalf("progress writes after Close = %d, want the note dropped", n)
		}
	})
}

// TestProgressWriteOfAnEndedAttempt: a noted progress lands only on the attempt that
// reported it, while it runs, and never over a later progress.
func TestProgressWriteOfAnEndedAttempt(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "r", params: map[string]any{"gate": true}})
	go func() { _, _ = v.e.Execute(context.Background(), root, RunOptions{}) }() // the test checks the store
	// A cluster node stores its claim before it registers it; progress is written
	// under the registered claim, which the executor always finds.
	waitFor(t, "the task running", func() bool {
		_, claimed := v.e.claimOf("r")
		return v.get("r").Status == task.InProgress && (v.e.m == nil || claimed)
	})
	started := v.get("r")
	for _, c := range []struct {
		name string
		note progressNote
		want float64
	}{
		{"an earlier attempt's", progressNote{p: 0.7, at: started.UpdatedAt.Add(time.Second), attempt: started.Attempts - 1}, 0},
		{"older than the stored state", progressNote{p: 0.7, at: started.UpdatedAt.Add(-time.Second), attempt: started.Attempts}, 0},
		{"this attempt's", progressNote{p: 0.4, at: started.UpdatedAt.Add(time.Second), attempt: started.Attempts}, 0.4},
		{"a later attempt's", progressNote{p: 0.9, at: started.UpdatedAt.Add(2 * time.Second), attempt: started.Attempts + 1}, 0.4},
	} {
		v.e.storeProgress("r", c.note)
		if got := v.get("r").Progress; got != c.want {
			t.Fatalf("after %s progress: stored %v, want %v", c.name, got, c.want)
		}
	}
	close(v.cat.gate)
}

// TestNoProgressEventAfterCancel: a progress call of a task being cancelled publishes
// nothing (its end may be published already) and notes nothing.
func TestNoProgressEventAfterCancel(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "r", params: map[string]any{"gate": true}})
	events, stop := v.e.Subscribe("r")
	defer stop()
	go func() { _, _ = v.e.Execute(context.Background(), root, RunOptions{}) }() // the test checks the store
	waitFor(t, "the task running", func() bool { return v.get("r").Status == task.InProgress })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	started := v.get("r")
	v.e.reportProgress(ctx, "r", started, nil, 0.5, time.Now())
	close(v.cat.gate)
	for ev := range events {
		if ev.Type == EventTaskProgress {
			t.Fatalf("progress event from a cancelled call: %+v", ev)
		}
		if ev.Type == EventRunEnd {
			break
		}
	}
	v.e.progress.mu.Lock()
	defer v.e.progress.mu.Unlock()
	if len(v.e.progress.notes) != 0 {
		t.Fatalf("notes = %v", v.e.progress.notes)
	}
}

// TestUpdateRunningWithoutClaim: a cluster node writes nothing of a running task it no
// longer claims (its progress, its pre-hooks' inputs): another node may run it now.
func TestUpdateRunningWithoutClaim(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "r"})
	e := &Engine{cfg: v.e.cfg, m: &member{claims: map[string]*execution{}}}
	_, err := e.updateRunning(context.Background(), root, func(x *task.Task) error { x.Progress = 0.5; return nil })
	if !errors.Is(err, errNotClaimed) {
		t.Fatalf("updateRunning = %v, want errNotClaimed", err)
	}
	e.storeProgress(root, progressNote{p: 0.5, at: time.Now(), attempt: 0})
	if p := v.get(root).Progress; p != 0 {
		t.Fatalf("progress %v written by a node without the claim", p)
	}
}
