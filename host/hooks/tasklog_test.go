package hooks_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestLogTee: a task hook's lines go through the LogTee of the call's context, named by
// the hook's id; without one they go to the runner's logger only.
func TestLogTee(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		tee  bool
		call func(v *env, ctx context.Context, tk *task.Task)
	}{
		{"pre_hook", true, func(v *env, ctx context.Context, tk *task.Task) { v.runner.Pre(ctx, tk, map[string]any{"x": 1}) }},
		{"post_hook", true, func(v *env, ctx context.Context, tk *task.Task) {
			tk.Status = task.Completed
			v.runner.Post(ctx, tk, map[string]any{"x": 1}, "r")
		}},
		{"no tee", false, func(v *env, ctx context.Context, tk *task.Task) { v.runner.Pre(ctx, tk, nil) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t, options{files: []string{"spy"}})
			var got bytes.Buffer
			var ids []string
			ctx := context.Background()
			if c.tee {
				ctx = executor.WithLogTee(ctx, func(id string, l hclog.Logger) hclog.Logger {
					ids = append(ids, id)
					return hclog.New(&hclog.LoggerOptions{Output: &got, Level: hclog.Trace})
				})
			}
			c.call(v, ctx, newTask("t1", "echo", map[string]any{"x": 1}))
			if !c.tee {
				if got.Len() != 0 {
					t.Fatalf("lines without a tee: %s", got.String())
				}
				return
			}
			if strings.Join(ids, ",") != "spy" || !strings.Contains(got.String(), `"id":"t1"`) {
				t.Fatalf("tee called for %v, lines %q", ids, got.String())
			}
		})
	}
}
