package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/apflow-wasm/apflow/host/api/jsonrpc"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// answers are results of each shape the answer's encoder writes itself, and one it
// leaves to encoding/json, built from a stored 1,000-task submission (completed, so that
// results, times and usage are set).
func answers(tb testing.TB, e *env) []struct {
	name string
	res  any
} {
	tb.Helper()
	ctx := context.Background()
	tree, err := e.srv.cfg.Prepare(ctx, mustJSON(tb, bigTree("a", 1000)), Owner{})
	if err != nil {
		tb.Fatal(err)
	}
	tasks := store.Collect(tree)
	now := time.Now()
	for _, t := range tasks {
		if err := t.Start(now); err != nil {
			tb.Fatal(err)
		}
		t.Result = map[string]any{"echo": t.Inputs, "note": "<a & b>"}
		t.Status, t.CompletedAt, t.Progress = task.Completed, now, 1
		t.Usage = &task.Usage{DurationMS: 0.25, HostCalls: 2}
	}
	node := task.BuildTree(tasks, tasks[0].ID)
	f, err := task.SelectFields([]string{"id", "status", "result"})
	if err != nil {
		tb.Fatal(err)
	}
	fields, err := projectTree(node, f)
	if err != nil {
		tb.Fatal(err)
	}
	return []struct {
		name string
		res  any
	}{
		{"tasks", tasks},
		{"one task", tasks[1]},
		{"tree", node},
		{"tree with fields", fields},
		{"a leaf", &task.TreeNode{Task: tasks[2]}},
		{"no tasks", []*task.Task{}},
		{"nil tasks", []*task.Task(nil)},
		{"a nil task", (*task.Task)(nil)},
		{"a map", map[string]any{"root_task_id": tasks[0].ID, "status": "completed", "tasks": tasks[:2]}},
	}
}

// writeAnswer writes the answer of a request with id 7 whose result is res, as the
// server does, and returns the HTTP body.
func writeAnswer(tb testing.TB, s *Server, res any) []byte {
	tb.Helper()
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/tasks", nil), rec)
	req := &jsonrpc.Request{ID: json.RawMessage("7"), Method: "tasks.get"}
	if err := writeJSON(c, http.StatusOK, s.respond(req, res, nil)); err != nil {
		tb.Fatal(err)
	}
	return rec.Body.Bytes()
}

// TestAnswerIsEncodingJSONs: an answer is, byte for byte, what encoding/json writes of
// the response and its result, whatever shape the result has.
func TestAnswerIsEncodingJSONs(t *testing.T) {
	t.Parallel()
	e := setup(t, setupOpts{})
	for _, c := range answers(t, e) {
		t.Run(c.name, func(t *testing.T) {
			res, err := json.Marshal(c.res)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(struct {
				JSONRPC string          `json:"jsonrpc"`
				ID      json.RawMessage `json:"id"`
				Result  json.RawMessage `json:"result"`
			}{"2.0", json.RawMessage("7"), res})
			if err != nil {
				t.Fatal(err)
			}
			if got := writeAnswer(t, e.srv, c.res); !bytes.Equal(got, want) {
				t.Fatalf("answer differs from encoding/json's:\n got %.300s\nwant %.300s", got, want)
			}
		})
	}
}

// BenchmarkAnswer writes answers of 1,000 tasks as the server does (respond, then the
// HTTP body): tasks.create's list of the tasks, tasks.tree's tree, whole and cut to
// three fields (a projection of the kind the dashboard asks for).
func BenchmarkAnswer(b *testing.B) {
	e := setup(b, setupOpts{})
	for _, c := range answers(b, e)[:4] {
		if c.name == "one task" {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				writeAnswer(b, e.srv, c.res)
			}
		})
	}
}
