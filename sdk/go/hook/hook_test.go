package hook_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

type repo struct{ reqs []string }

func (r *repo) Call(_ context.Context, req json.RawMessage) (json.RawMessage, error) {
	r.reqs = append(r.reqs, string(req))
	return json.RawMessage(`{"id":"t1","priority":0}`), nil
}

// setup builds testdata/audithook for wasip1 and loads it into a sandbox that grants it
// the repository capability.
func setup(t *testing.T) *sandbox.Module {
	t.Helper()
	if testing.Short() {
		t.Skip("building a wasm plugin is slow; skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "audithook.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/audithook")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{Grants: func(string) sandbox.Grants { return sandbox.Grants{Repository: true} }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	m, err := rt.Load(ctx, wasm, "audithook.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHookThroughSandbox(t *testing.T) {
	t.Parallel()
	m := setup(t)
	if m.ID() != "audithook" {
		t.Errorf("id = %q", m.ID())
	}
	// Package hook exports all six hook functions; the module's get_hook_config lists
	// those it sets, and the host calls only these.
	want := []string{"on_tree_failed", "post_hook", "pre_hook"}
	got := m.HookExports()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("hook exports = %v, want %v", got, want)
	}
	if ex := m.HookExecutors(); !slices.Equal(ex, []string{"text_stats"}) {
		t.Errorf("hook executors = %v", ex)
	}
	ctx := context.Background()
	task := `{"id":"t1","schemas":{"method":"text_stats"}}`
	call := func(export, input string, r sandbox.Repository) string {
		t.Helper()
		out, err := m.CallHook(ctx, &sandbox.HookCall{Export: export, Input: json.RawMessage(input), Repository: r})
		if err != nil {
			t.Fatalf("%s: %v", export, err)
		}
		return string(out)
	}
	if got := call("pre_hook", `{"task":`+task+`,"inputs":{"text":"x","n":12345678901234567890}}`, nil); got !=
		`{"inputs":{"audited_by":"audithook:text_stats","n":12345678901234567890,"text":"x"}}` {
		t.Errorf("pre_hook = %s", got)
	}
	if got := call("pre_hook", `{"task":`+task+`,"inputs":{"reject":true}}`, nil); got != `{"error":"rejected by audithook"}` {
		t.Errorf("rejecting pre_hook = %s", got)
	}
	r := &repo{}
	if got := call("post_hook", `{"task":`+task+`,"inputs":{},"result":{"words":1}}`, r); got != `{}` {
		t.Errorf("post_hook = %s", got)
	}
	if len(r.reqs) != 1 || !strings.Contains(r.reqs[0], `"op":"update_task"`) {
		t.Errorf("store requests = %v", r.reqs)
	}
	if _, err := m.CallHook(ctx, &sandbox.HookCall{Export: "on_tree_started", Input: json.RawMessage(`{"root":{"id":"r"}}`)}); err == nil ||
		!strings.Contains(err.Error(), "does not implement hook on_tree_started") {
		t.Errorf("on_tree_started, which the hook does not set: %v, want it not called", err)
	}
	if got := call("on_tree_failed", `{"root":{"id":"r"},"status":"failed","message":"boom"}`, nil); !strings.Contains(got, `"error":"panic: tree failed: boom"`) {
		t.Errorf("panicking on_tree_failed = %s", got)
	}
	// The instance survived the recovered panic and still works.
	if got := call("pre_hook", `{"task":`+task+`,"inputs":{}}`, nil); !strings.Contains(got, "audited_by") {
		t.Errorf("pre_hook after a panic = %s", got)
	}
}
