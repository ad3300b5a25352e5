package api

import (
	"context"
	"reflect"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
)

// addLogger adds executor "logger": it logs its inputs' lines (debug) and echoes.
func addLogger(e *env) {
	e.cat.mu.Lock()
	defer e.cat.mu.Unlock()
	e.cat.m["logger"] = &testExec{info: &executor.Info{ID: "logger", Name: "logger", Kind: "builtin"},
		run: func(ctx context.Context, req *executor.Request) (any, error) {
			var in struct{ Lines []string }
			_ = decodeParams(req.Inputs, &in)
			for _, l := range in.Lines {
				req.Logger.Log(hclog.Debug, l)
			}
			return map[string]any{"ok": true}, nil
		}}
}

// TestTasksLogs: tasks.logs pages a task's stored lines with the owner rules of
// tasks.get, and refuses bad cursors and limits.
func TestTasksLogs(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{auth: true})
	addLogger(e)
	alice, bob, admin := e.token(t, "alice"), e.token(t, "bob"), e.token(t, "root", "admin")
	e.ok(t, alice, "tasks.create", one("l1", "schemas", map[string]any{"method": "logger"},
		"inputs", map[string]any{"lines": []string{"one", "two", "three"}}), nil)
	e.ok(t, alice, "tasks.execute", map[string]any{"task_id": "l1"}, nil)

	type page struct {
		TaskID string          `json:"task_id"`
		Status string          `json:"status"`
		Lines  []store.LogLine `json:"lines"`
		Next   int64           `json:"next_after"`
		More   bool            `json:"more"`
	}
	msgs := func(p page) []string {
		var out []string
		for _, l := range p.Lines {
			out = append(out, l.Message)
		}
		return out
	}
	cases := []struct {
		name   string
		token  string
		params map[string]any
		want   []string
		next   int64
		more   bool
	}{
		{"all", alice, map[string]any{"task_id": "l1"}, []string{"one", "two", "three"}, 3, false},
		{"first page", alice, map[string]any{"task_id": "l1", "limit": 2}, []string{"one", "two"}, 2, true},
		{"after", alice, map[string]any{"task_id": "l1", "after": 2}, []string{"three"}, 3, false},
		{"at the end", alice, map[string]any{"task_id": "l1", "after": 3}, nil, 3, false},
		{"admin, full id", admin, map[string]any{"task_id": "alice/l1", "limit": 1}, []string{"one"}, 1, true},
	}
	for _, c := range cases {
		var p page
		e.ok(t, c.token, "tasks.logs", c.params, &p)
		if !reflect.DeepEqual(msgs(p), c.want) || p.Next != c.next || p.More != c.more || p.TaskID != "alice/l1" || p.Status != "completed" {
			t.Errorf("%s: %+v, want %v next %d more %v", c.name, p, c.want, c.next, c.more)
		}
		for _, l := range p.Lines {
			if l.Source != "executor" || l.Level != "debug" || l.Attempt != 1 {
				t.Errorf("%s: line %+v", c.name, l)
			}
		}
	}
	for _, c := range []struct {
		name   string
		token  string
		params map[string]any
		code   int
	}{
		{"another user's task", bob, map[string]any{"task_id": "alice/l1"}, -32001},
		{"missing task", alice, map[string]any{"task_id": "zz"}, -32001},
		{"no task id", alice, map[string]any{}, -32602},
		{"negative after", alice, map[string]any{"task_id": "l1", "after": -1}, -32602},
		{"zero limit", alice, map[string]any{"task_id": "l1", "limit": 0}, -32602},
		{"limit too large", alice, map[string]any{"task_id": "l1", "limit": store.MaxLogRead + 1}, -32602},
	} {
		e.fails(t, c.token, "tasks.logs", c.params, c.code)
	}
}
