package engine

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// recHooks records hook calls: Pre adds "pre": true to the inputs and fails for task
// "bad"; Post records its call order; TreeEvent records kinds.
type recHooks struct {
	mu      sync.Mutex
	calls   []string
	trees   []string
	last    *task.TreeNode // the tree of the last tree event
	callers []string       // per call, "hook:task", the language model's caller of its ctx
}

// caller records the task whose token budgets a hook call's llm_complete would use.
func (h *recHooks) caller(ctx context.Context, hook string) {
	c, _ := llm.CallerFrom(ctx)
	h.callers = append(h.callers, hook+":"+c.TaskID)
}

func (h *recHooks) Pre(ctx context.Context, t *task.Task, in map[string]any) (map[string]any, []error) {
	h.mu.Lock()
	h.calls = append(h.calls, "pre:"+t.ID)
	h.caller(ctx, "pre")
	h.mu.Unlock()
	in["pre"] = true
	if t.ID == "bad" {
		return in, []error{errors.New("hook exploded")}
	}
	return in, nil
}

func (h *recHooks) Post(ctx context.Context, t *task.Task, in map[string]any, result any) []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, "post:"+t.ID)
	h.caller(ctx, "post")
	if in["pre"] != true || result == nil {
		return []error{errors.New("post-hook did not see inputs and result")}
	}
	return nil
}

func (h *recHooks) TreeEvent(ctx context.Context, kind string, root *task.Task, tree *task.TreeNode, status, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.caller(ctx, "tree")
	h.trees = append(h.trees, kind+":"+root.ID+":"+msg)
	h.last = tree
}

// TestHookErrorsRecordedNotLogged: a hook's failure is the task's hook_errors; the
// engine does not log it as well (the Hooks implementation logs what its operator
// needs: once for a hook that is not loaded, not once a task).
func TestHookErrorsRecordedNotLogged(t *testing.T) {
	t.Parallel()
	var log logbuf.Buffer
	v := setup(t, withHooks(&recHooks{}), func(c *Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Trace})
	})
	v.run(v.create(spec{id: "root"}, spec{id: "bad"}), RunOptions{})
	if bad := v.get("bad"); !reflect.DeepEqual(bad.HookErrors, []string{"pre-hook: hook exploded"}) {
		t.Fatalf("hook errors = %v", bad.HookErrors)
	}
	if strings.Contains(log.String(), "hook exploded") {
		t.Fatalf("the engine logged the hook's error:\n%s", log.String())
	}
}

func TestHooks(t *testing.T) {
	t.Parallel()
	h := &recHooks{}
	v := setup(t, withHooks(h), withConcurrency(1))
	root := v.create(spec{id: "root", deps: req("dep")}, spec{id: "bad"}, spec{id: "dep", deps: req("bad")})
	v.run(root, RunOptions{})
	// Post of a task runs before its dependents start (their pre-hook is the first thing
	// they run).
	want := []string{"pre:bad", "post:bad", "pre:dep", "post:dep", "pre:root", "post:root"}
	if !reflect.DeepEqual(h.calls, want) {
		t.Fatalf("hook calls = %v, want %v", h.calls, want)
	}
	bad := v.wantStatus("bad", task.Completed) // a failing hook never changes status
	if !reflect.DeepEqual(bad.HookErrors, []string{"pre-hook: hook exploded"}) {
		t.Fatalf("hook errors = %v", bad.HookErrors)
	}
	if bad.Inputs["pre"] != true {
		t.Fatalf("pre-hook inputs not persisted: %v", bad.Inputs)
	}
	// What the hook got is kept beside what the executor got.
	if bad.InputsBeforeHooks == nil || bad.InputsBeforeHooks["pre"] != nil {
		t.Fatalf("inputs before hooks = %v, want the inputs without the hook's key", bad.InputsBeforeHooks)
	}
	if v.cat.inputs["dep"]["pre"] != true {
		t.Fatal("executor did not get the pre-hook's inputs")
	}
	wantTrees := []string{"started:root:", "completed:root:completed"}
	if !reflect.DeepEqual(h.trees, wantTrees) {
		t.Fatalf("tree events = %v, want %v", h.trees, wantTrees)
	}
	// A hook's model calls count against the task it runs for (the tree's root for a
	// tree hook), as the executor's do.
	wantCallers := []string{"tree:root", "pre:bad", "post:bad", "pre:dep", "post:dep", "pre:root", "post:root", "tree:root"}
	if !reflect.DeepEqual(h.callers, wantCallers) {
		t.Fatalf("hook callers = %v, want %v", h.callers, wantCallers)
	}
}

func TestTreeFailedEvent(t *testing.T) {
	t.Parallel()
	h := &recHooks{}
	v := setup(t, withHooks(h))
	root := v.create(spec{id: "root"}, spec{id: "x", params: map[string]any{"fail": "no"}})
	v.run(root, RunOptions{})
	if got := h.trees[len(h.trees)-1]; got != "failed:root:Tree finished with status: failed" {
		t.Fatalf("last tree event = %q", got)
	}
}

// TestTreeEventTasksAreStored: the tree of the final tree event holds every task as
// stored (inputs, result, timestamps, name), not what the run keeps of it.
func TestTreeEventTasksAreStored(t *testing.T) {
	t.Parallel()
	h := &recHooks{}
	v := setup(t, withHooks(h))
	root := v.create(spec{id: "root", deps: req("a")}, spec{id: "a", inputs: map[string]any{"x": "y"}}, spec{id: "b"})
	v.run(root, RunOptions{})
	if h.last == nil || len(h.last.Children) != 2 {
		t.Fatalf("final tree = %+v", h.last)
	}
	for _, c := range h.last.Children {
		want := v.wantStatus(c.Task.ID, task.Completed)
		if !reflect.DeepEqual(c.Task, want) {
			t.Fatalf("tree event task %s =\n%+v\nwant the stored\n%+v", c.Task.ID, c.Task, want)
		}
	}
}
