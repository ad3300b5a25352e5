package hooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// inproc is an in-process executor catalog: "noop" returns {}, "echo" returns its
// inputs, "failer" returns {"error": "failed on purpose"}.
type inproc struct{}

type inprocHandle struct{ id string }

func (inproc) Lookup(id string) (executor.Handle, error) {
	switch id {
	case "noop", "echo", "failer":
		return inprocHandle{id}, nil
	}
	return nil, executor.NotFound(id)
}

func (inproc) List() []*executor.Info { return nil }

func (h inprocHandle) Info() *executor.Info { return &executor.Info{ID: h.id, Kind: "test"} }
func (inprocHandle) Release()               {}

func (h inprocHandle) Execute(_ context.Context, req *executor.Request) (*executor.Response, error) {
	switch h.id {
	case "echo":
		return &executor.Response{Output: req.Inputs}, nil
	case "failer":
		return &executor.Response{Output: json.RawMessage(`{"error":"failed on purpose"}`)}, nil
	}
	return &executor.Response{Output: json.RawMessage(`{}`)}, nil
}

// runTree stores root + children (id:method) under v's runner and runs them.
func (v *env) runTree(t testing.TB, children ...string) (*engine.Engine, engine.RunResult) {
	t.Helper()
	e, err := engine.New(engine.Config{Store: v.st, Catalog: inproc{}, Hooks: v.runner})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	now := time.Now().UTC()
	tasks := []*task.Task{{ID: "root", TaskTreeID: "root", Name: "root", Status: task.Pending, Priority: 2,
		Schemas: map[string]any{"method": "noop"}, CreatedAt: now, UpdatedAt: now, HasChildren: len(children) > 0}}
	for i, c := range children {
		id, method, _ := strings.Cut(c, ":")
		tasks = append(tasks, &task.Task{ID: id, ParentID: "root", TaskTreeID: "root", Name: id, Status: task.Pending,
			Priority: 2, Schemas: map[string]any{"method": method}, Inputs: map[string]any{"orig": true},
			Seq: i + 1, CreatedAt: now, UpdatedAt: now})
	}
	if err := v.st.Create(context.Background(), tasks); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := e.Execute(ctx, "root", engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e, res
}

func (v *env) get(t testing.TB, id string) *task.Task {
	t.Helper()
	tk, err := v.st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// Through the real engine: pre-hook inputs reach the executor and are persisted, failing
// and looping hooks are recorded and never change a task's status, post-hooks run only
// for completed tasks, and tree hooks see the run.
func TestEngine(t *testing.T) {
	t.Parallel()
	v := setup(t, options{
		files:  []string{"set_a", "fail", "trap", "loop", "spy"},
		ids:    []string{"set_a", "fail", "trap", "loop", "spy", "absent"},
		limits: task.Limits{TimeoutMS: 200},
	})
	_, res := v.runTree(t, "a:echo", "f:failer")
	if res.Status != task.Completed { // the root (noop) completes; f failing does not block it
		t.Fatalf("run status = %s", res.Status)
	}
	a := v.get(t, "a")
	if a.Status != task.Completed {
		t.Fatalf("a = %s (%s); hooks must not change a task's status", a.Status, a.Error)
	}
	if s := jsonString(t, a.Inputs); s != `{"by":"set_a","n":1}` {
		t.Fatalf("persisted inputs of a = %s", s)
	}
	if s := jsonString(t, a.Result); s != `{"by":"set_a","n":1}` {
		t.Fatalf("the executor did not get the pre-hook's inputs: result %s", s)
	}
	wantErrs := []string{
		"pre-hook: hook fail pre_hook: returned error: refused by fail",
		"pre-hook: hook trap pre_hook: trapped: unreachable",
		"pre-hook: hook loop pre_hook: timed out after 200ms",
		"pre-hook: hook absent is not loaded",
		`post-hook: hook fail post_hook: returned error: {"code":7}`,
		"post-hook: hook trap post_hook: trapped: unreachable",
		"post-hook: hook loop post_hook: timed out after 200ms",
		"post-hook: hook absent is not loaded",
	}
	if len(a.HookErrors) != len(wantErrs) {
		t.Fatalf("hook_errors of a = %q", a.HookErrors)
	}
	for i, w := range wantErrs {
		if !strings.HasPrefix(a.HookErrors[i], w) {
			t.Fatalf("hook_errors[%d] = %q, want %q", i, a.HookErrors[i], w)
		}
	}
	f := v.get(t, "f")
	if f.Status != task.Failed || len(f.HookErrors) != 4 { // pre-hook errors only
		t.Fatalf("f = %s, hook_errors %q", f.Status, f.HookErrors)
	}
	var postTasks []string
	for _, l := range v.logs.Lines("export=post_hook") {
		if strings.Contains(l, "hook=spy") {
			_, rest, _ := strings.Cut(l, "task=")
			postTasks = append(postTasks, strings.Fields(rest)[0])
			if strings.Contains(l, "task=a") && !strings.Contains(l, `"result":{"by":"set_a","n":1}`) {
				t.Fatalf("post-hook of a did not see its result: %s", l)
			}
		}
	}
	if fmt.Sprint(postTasks) != "[a root]" {
		t.Fatalf("post-hooks ran for %v, want the completed a and root, never the failed f", postTasks)
	}
	// The tree's status comes from its children (f failed): on_tree_failed.
	for _, ev := range []string{"export=on_tree_started", "export=on_tree_failed"} {
		if len(v.logs.Lines(ev)) == 0 {
			t.Fatalf("no %s tree hook call", ev)
		}
	}
	if !strings.Contains(fmt.Sprint(v.logs.Lines("export=on_tree_failed")), `"message":"Tree finished with status: failed"`) {
		t.Fatalf("on_tree_failed input: %q", v.logs.Lines("export=on_tree_failed"))
	}
}

// BenchmarkHookOverhead compares a run of 100 no-op tasks with no hooks and with one
// no-op WASM hook exporting pre_hook and post_hook.
func BenchmarkHookOverhead(b *testing.B) {
	const tasks = 100
	for _, bc := range []struct {
		name string
		ids  []string
	}{{"none", []string{}}, {"pre+post", []string{"noop"}}} {
		b.Run(bc.name, func(b *testing.B) {
			v := setup(b, options{files: []string{"noop"}, ids: bc.ids})
			e, err := engine.New(engine.Config{Store: v.st, Catalog: inproc{}, Hooks: v.runner})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = e.Close(context.Background()) })
			ctx := context.Background()
			var total time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				now := time.Now().UTC()
				root := fmt.Sprintf("r%d", i)
				ts := []*task.Task{{ID: root, TaskTreeID: root, Name: root, Status: task.Pending, Priority: 2,
					Schemas: map[string]any{"method": "noop"}, CreatedAt: now, UpdatedAt: now, HasChildren: true}}
				for k := 1; k < tasks; k++ {
					id := fmt.Sprintf("%s-%d", root, k)
					ts = append(ts, &task.Task{ID: id, ParentID: root, TaskTreeID: root, Name: id, Status: task.Pending,
						Priority: 2, Schemas: map[string]any{"method": "noop"}, Seq: k, CreatedAt: now, UpdatedAt: now})
				}
				if err := v.st.Create(ctx, ts); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				res, err := e.Execute(ctx, root, engine.RunOptions{})
				total += time.Since(start)
				if err != nil || res.Status != task.Completed {
					b.Fatalf("run = %+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(total.Microseconds())/float64(tasks*b.N), "µs/task")
		})
	}
}
