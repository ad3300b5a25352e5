package api

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// gate adds executor id, which tells entered when it starts and returns when release is
// called (or its context ends).
func (c *testCatalog) gate(id string) (entered <-chan struct{}, release func()) {
	in, out := make(chan struct{}, 16), make(chan struct{})
	c.mu.Lock()
	c.m[id] = &testExec{info: &executor.Info{ID: id, Name: id, Kind: "builtin"},
		run: func(ctx context.Context, _ *executor.Request) (any, error) {
			in <- struct{}{}
			select {
			case <-out:
			case <-ctx.Done():
			}
			return map[string]any{"released": true}, nil
		}}
	c.mu.Unlock()
	var once atomic.Bool
	return in, func() {
		if once.CompareAndSwap(false, true) {
			close(out)
		}
	}
}

// gatedTree is a root depending on a child that runs executor gateID.
func gatedTree(prefix, gateID string) []map[string]any {
	return []map[string]any{
		{"id": prefix + "-root", "name": prefix + "-root", "schemas": map[string]any{"method": "echo"}, "dependencies": []any{prefix + "-gate"}},
		{"id": prefix + "-gate", "name": prefix + "-gate", "parent_id": prefix + "-root", "schemas": map[string]any{"method": gateID}},
		{"id": prefix + "-other", "name": prefix + "-other", "parent_id": prefix + "-root", "schemas": map[string]any{"method": "echo"},
			"dependencies": []any{prefix + "-gate"}},
	}
}

// startingEngine starts a run of rootID the moment the server consults the engine about
// a change (once armed): right after answering Running, the check of a check-then-write,
// or right before Update and Delete.
type startingEngine struct {
	Engine
	rootID string
	armed  atomic.Bool
	run    atomic.Pointer[engine.Run]
}

func (e *startingEngine) startNow() {
	if !e.armed.CompareAndSwap(true, false) {
		return
	}
	r, err := e.Engine.Start(context.Background(), e.rootID, engine.RunOptions{})
	if err != nil {
		panic(err)
	}
	e.run.Store(r)
}

func (e *startingEngine) Running() []engine.RunInfo {
	out := e.Engine.Running()
	e.startNow()
	return out
}

func (e *startingEngine) Update(ctx context.Context, id string, change func(*task.Task) error) (*task.Task, error) {
	e.startNow()
	return e.Engine.Update(ctx, id, change)
}

func (e *startingEngine) Delete(ctx context.Context, id string, check func([]*task.Task) error) ([]*task.Task, error) {
	e.startNow()
	return e.Engine.Delete(ctx, id, check)
}

// TestChangeWhileRunStarts: a run that starts while tasks.update or tasks.delete is
// handled makes the call fail (-32008, -32009); the change is never applied under the
// live run, which ends normally with every task in place. Every execution slot is taken
// by another tree, so the run holds its tree with every task still pending.
func TestChangeWhileRunStarts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		params func(prefix string) map[string]any
		code   int
	}{
		{"status", "tasks.update", func(p string) map[string]any { return map[string]any{"task_id": p + "-other", "status": "cancelled"} }, -32008},
		{"delete", "tasks.delete", func(p string) map[string]any { return map[string]any{"task_id": p + "-root", "force": true} }, -32009},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var se *startingEngine
			e := setup(t, setupOpts{mutate: func(c *Config) {
				se = &startingEngine{Engine: c.Engine}
				c.Engine = se
			}})
			prefix, gate := "rs"+tc.name, "gate-"+tc.name
			entered, release := e.cat.gate(gate)
			defer release()
			busy := []map[string]any{{"id": prefix + "-busy", "name": prefix + "-busy", "schemas": map[string]any{"method": "echo"}}}
			for i := range 8 { // the engine's concurrency in setup
				id := fmt.Sprintf("%s-busy%d", prefix, i)
				busy = append(busy, map[string]any{"id": id, "name": id, "parent_id": prefix + "-busy", "schemas": map[string]any{"method": gate}})
			}
			e.ok(t, "", "tasks.create", busy, nil)
			busyRun, err := e.eng.Start(context.Background(), prefix+"-busy", engine.RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for range 8 {
				<-entered
			}
			se.rootID = prefix + "-root"
			e.ok(t, "", "tasks.create", gatedTree(prefix, gate), nil)

			se.armed.Store(true)
			r := e.rpc(t, "", tc.method, tc.params(prefix))
			run := se.run.Load()
			if run == nil {
				t.Fatal("the server changed the tree without asking the engine")
			}
			if r.Error == nil || r.Error.Code != tc.code {
				t.Errorf("%s while a run started: %s %+v, want error %d", tc.method, r.Result, r.Error, tc.code)
			}
			release()
			<-busyRun.Done()
			<-run.Done()
			if res := run.Result(); res.Err != nil || res.Status != task.Completed {
				t.Fatalf("the run: %+v", res)
			}
			for _, id := range []string{prefix + "-root", prefix + "-gate", prefix + "-other"} {
				var got taskView
				e.ok(t, "", "tasks.get", map[string]any{"task_id": id}, &got)
				if got.Status != "completed" {
					t.Errorf("%s after the run: %s", id, got.Status)
				}
			}
		})
	}
}

// TestUpdateWhileRunning: no field of a task of a running tree changes (-32008): the run
// owns its tasks (it would overwrite inputs at start, run with the dependencies it
// loaded, and so on).
func TestUpdateWhileRunning(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	entered, release := e.cat.gate("gate-ur")
	defer release()
	e.ok(t, "", "tasks.create", gatedTree("ur", "gate-ur"), nil)
	run, err := e.eng.Start(context.Background(), "ur-root", engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	for _, params := range []map[string]any{
		{"task_id": "ur-other", "inputs": map[string]any{"x": 1}},
		{"task_id": "ur-other", "params": map[string]any{"x": 1}},
		{"task_id": "ur-other", "dependencies": []any{}},
		{"task_id": "ur-other", "priority": 0},
		{"task_id": "ur-other", "name": "renamed"},
		{"task_id": "ur-other", "status": "cancelled"},
		{"task_id": "ur-root", "schemas": map[string]any{"method": "fail"}},
	} {
		e.fails(t, "", "tasks.update", params, -32008)
	}
	release()
	<-run.Done()
	var got taskView
	e.ok(t, "", "tasks.get", map[string]any{"task_id": "ur-other"}, &got)
	if got.Status != "completed" || got.Name != "ur-other" || got.Priority != task.DefaultPriority || len(got.Deps) != 1 {
		t.Fatalf("ur-other after the run: %+v", got)
	}
	// Once the run has ended the task can change again.
	e.ok(t, "", "tasks.update", map[string]any{"task_id": "ur-other", "name": "renamed"}, &got)
	if got.Name != "renamed" {
		t.Fatalf("update after the run: %+v", got)
	}
}
