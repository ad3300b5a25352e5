package apflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// setupHook returns a harness around a hook-only module that records what it saw.
func setupHook(t *testing.T) (*apflowtest.Harness, *[]string) {
	t.Helper()
	var seen []string
	m, err := apflow.NewModule(nil, &apflow.Hook{
		ID: "audit", Version: "0.1.0", Capabilities: []string{"repository"}, Executors: []string{"rest_executor"},
		Pre: func(ctx *apflow.Context, task *apflow.Task, inputs map[string]any) (map[string]any, error) {
			seen = append(seen, "pre:"+task.ID+":"+task.Method())
			if inputs["skip"] == true {
				return nil, nil
			}
			if inputs["fail"] == true {
				return nil, errors.New("pre failed")
			}
			inputs["audited"] = true
			return inputs, nil
		},
		Post: func(ctx *apflow.Context, task *apflow.Task, inputs map[string]any, result any) error {
			seen = append(seen, fmt.Sprintf("post:%s:%v", task.ID, result))
			t, err := ctx.Store().UpdateTask(task.ID, map[string]any{"priority": 0})
			if err != nil {
				return err
			}
			seen = append(seen, fmt.Sprintf("updated:%d", t.Priority))
			return nil
		},
		OnTreeCreated: func(ctx *apflow.Context, root *apflow.Task, tree *apflow.TreeNode) error {
			seen = append(seen, fmt.Sprintf("created:%s:%d", root.ID, len(tree.Children)))
			return nil
		},
		OnTreeFailed: func(ctx *apflow.Context, root *apflow.Task, message string) error {
			panic("failed hook: " + message)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return apflowtest.For(t, m), &seen
}

func TestHookModule(t *testing.T) {
	t.Parallel()
	h, seen := setupHook(t)
	h.Host.Store = func(req map[string]any) (any, error) {
		if req["op"] != "update_task" {
			return nil, fmt.Errorf("unexpected op %v", req["op"])
		}
		return map[string]any{"id": req["id"], "priority": req["fields"].(map[string]any)["priority"]}, nil
	}
	task := map[string]any{"id": "t1", "schemas": map[string]any{"method": "rest_executor"}}

	res := h.Hook(apflow.PreHook, map[string]any{"task": task, "inputs": map[string]any{"n": 12345678901234567}})
	if res == nil || string(res.Raw) != `{"inputs":{"audited":true,"n":12345678901234567}}` {
		t.Errorf("pre_hook = %v (large integers must survive unchanged)", res)
	}
	if res := h.Hook(apflow.PreHook, map[string]any{"task": task, "inputs": map[string]any{"skip": true}}); res == nil || string(res.Raw) != `{}` {
		t.Errorf("pre_hook returning nil inputs = %v, want {}", res)
	}
	if res := h.Hook(apflow.PreHook, map[string]any{"task": task, "inputs": map[string]any{"fail": true}}); res == nil || res.Error() != "pre failed" {
		t.Errorf("failing pre_hook = %v", res)
	}
	if res := h.Hook(apflow.PostHook, map[string]any{"task": task, "inputs": map[string]any{}, "result": 7}); res == nil || string(res.Raw) != `{}` {
		t.Errorf("post_hook = %v", res)
	}
	if res := h.Hook(apflow.OnTreeCreated, map[string]any{"root": map[string]any{"id": "r"},
		"tree": map[string]any{"task": map[string]any{"id": "r"}, "children": []any{map[string]any{"task": task, "children": []any{}}}}}); res == nil || string(res.Raw) != `{}` {
		t.Errorf("on_tree_created = %v", res)
	}
	if res := h.Hook(apflow.OnTreeStarted, map[string]any{"root": map[string]any{"id": "r"}}); res != nil {
		t.Errorf("a hook point without a callback = %s, want nothing", res.Raw)
	}
	if res := h.Hook(apflow.OnTreeFailed, map[string]any{"root": map[string]any{"id": "r"}, "status": "failed", "message": "m"}); res == nil ||
		res.Error() != "panic: failed hook: m" || res.Code() != apflow.CodePanic {
		t.Errorf("panicking on_tree_failed = %v", res)
	}
	if res := h.Module.CallHook(h.Host, apflow.PreHook, []byte(`{"task":`)); !strings.Contains(string(res), "invalid input") {
		t.Errorf("pre_hook with broken input = %s", res)
	}
	if res := h.Module.CallHook(h.Host, "bogus", nil); !strings.Contains(string(res), `unknown hook point \"bogus\"`) {
		t.Errorf("unknown hook point = %s", res)
	}
	want := []string{"pre:t1:rest_executor", "pre:t1:rest_executor", "pre:t1:rest_executor", "post:t1:7", "updated:0", "created:r:1"}
	if !reflect.DeepEqual(*seen, want) {
		t.Errorf("seen = %q, want %q", *seen, want)
	}

	var meta map[string]any
	_ = json.Unmarshal(h.Module.MetadataJSON(), &meta)
	if !reflect.DeepEqual(meta["kind"], []any{"hook"}) || meta["id"] != "audit" {
		t.Errorf("metadata = %v", meta)
	}
	// The host calls only the hook functions the hook sets, though package hook exports all six.
	if string(h.Module.HookConfig()) != `{"executors":["rest_executor"],"hooks":["pre_hook","post_hook","on_tree_created","on_tree_failed"]}` {
		t.Errorf("hook config = %s", h.Module.HookConfig())
	}
	if res := h.ExecuteRaw([]byte(`{}`)); res.Code() != apflow.CodeNoExecutor {
		t.Errorf("execute on a hook module = %s", res.Raw)
	}
	if h.Module.InputSchema() != nil {
		t.Errorf("a hook module has an input schema: %s", h.Module.InputSchema())
	}
}

func TestExecutorAndHookModule(t *testing.T) {
	t.Parallel()
	m, err := apflow.NewModule(apflow.Executor[struct{}, struct{}]{
		ID: "both", Capabilities: []string{"http"},
		Run: func(*apflow.Context, struct{}) (struct{}, error) { return struct{}{}, nil },
	}, &apflow.Hook{Capabilities: []string{"repository", "http"},
		OnTreeStarted: func(*apflow.Context, *apflow.Task) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	meta := m.Metadata()
	if meta.ID != "both" || !reflect.DeepEqual(meta.Kind, []string{"executor", "hook"}) ||
		!reflect.DeepEqual(meta.Capabilities, []string{"http", "repository"}) {
		t.Errorf("metadata = %+v", meta)
	}
	if m.CallHook(&apflowtest.Host{}, apflow.PreHook, []byte(`{}`)) != nil {
		t.Error("a hook function the hook does not set must answer nothing")
	}
	if string(m.HookConfig()) != `{"hooks":["on_tree_started"]}` {
		t.Errorf("hook config = %s", m.HookConfig())
	}
}

// TestHookWithoutFunctions: a hook that sets no function is refused, naming it, in a
// hook module; beside an executor it is no hook, and the executor loads as before.
func TestHookWithoutFunctions(t *testing.T) {
	t.Parallel()
	_, err := apflow.NewModule(nil, &apflow.Hook{ID: "idle"})
	if err == nil || !strings.Contains(err.Error(), "hook idle sets none of Pre, Post") {
		t.Fatalf("NewModule = %v, want the hook refused", err)
	}
	m, err := apflow.NewModule(apflow.Executor[struct{}, struct{}]{
		ID:  "exec",
		Run: func(*apflow.Context, struct{}) (struct{}, error) { return struct{}{}, nil },
	}, &apflow.Hook{Capabilities: []string{"repository"}})
	if err != nil {
		t.Fatal(err)
	}
	if meta := m.Metadata(); !reflect.DeepEqual(meta.Kind, []string{"executor"}) || m.HasHook() || m.HookConfig() != nil {
		t.Errorf("kind %v, hook %v, hook config %s; want an executor alone", meta.Kind, m.HasHook(), m.HookConfig())
	}
}

func TestStoreOperations(t *testing.T) {
	t.Parallel()
	var reqs []map[string]any
	host := &apflowtest.Host{Store: func(req map[string]any) (any, error) {
		reqs = append(reqs, req)
		switch req["op"] {
		case "get_task":
			return map[string]any{"id": req["id"], "status": "pending", "inputs": map[string]any{"a": 1}}, nil
		case "list_tasks":
			return map[string]any{"tasks": []any{map[string]any{"id": "a"}}, "total": 3}, nil
		case "count_tasks":
			return map[string]any{"count": 4}, nil
		}
		return nil, errors.New("refused")
	}}
	s := apflow.NewContext(host).Store()
	tk, err := s.GetTask("x")
	if err != nil || tk.ID != "x" || tk.Status != "pending" {
		t.Errorf("GetTask = %+v, %v", tk, err)
	}
	l, err := s.ListTasks(apflow.TaskQuery{Status: "pending", TreeID: "tr", Limit: 5})
	if err != nil || l.Total != 3 || len(l.Tasks) != 1 {
		t.Errorf("ListTasks = %+v, %v", l, err)
	}
	if n, err := s.CountTasks("failed"); err != nil || n != 4 {
		t.Errorf("CountTasks = %d, %v", n, err)
	}
	if _, err := s.UpdateTask("x", map[string]any{"status": "completed"}); err == nil || err.Error() != "store update_task: refused" {
		t.Errorf("UpdateTask error = %v", err)
	}
	wantReqs := []map[string]any{
		{"op": "get_task", "id": "x"},
		{"op": "list_tasks", "status": "pending", "tree_id": "tr", "limit": float64(5)},
		{"op": "count_tasks", "status": "failed"},
		{"op": "update_task", "id": "x", "fields": map[string]any{"status": "completed"}},
	}
	if !reflect.DeepEqual(reqs, wantReqs) {
		t.Errorf("requests = %v", reqs)
	}
	if _, err := apflow.NewContext(&apflowtest.Host{}).Store().CountTasks(""); err == nil || !strings.Contains(err.Error(), "not granted") {
		t.Errorf("store without grant: %v", err)
	}
}
