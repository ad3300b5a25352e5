package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/store/badgerstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestPluginInputsValidatedOnce runs WASM tasks through the registry and the sandbox:
// each execution validates its inputs against the plugin's input schema exactly once
// (the engine's check; the sandbox does not check again), and not at all when the schema
// accepts every object, as echo's {"type":"object"} does; inputs the schema rejects fail
// the task with the engine's message naming it.
func TestPluginInputsValidatedOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		plugin      string
		inputs      map[string]any
		validations int64
		status      task.Status
		err         string
	}{
		{plugin: "echo", inputs: map[string]any{"text": "hi"}, validations: 0, status: task.Completed},
		{plugin: "typed_echo", inputs: map[string]any{"text": "hi"}, validations: 1, status: task.Completed},
		{plugin: "typed_echo", inputs: map[string]any{"text": 7}, validations: 1, status: task.Failed,
			err: "Input validation failed for task root: inputs.text: "},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.plugin, tt.inputs), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e, reg, st := wasmEngine(t, sandbox.Config{}, tt.plugin)
			h, err := reg.Lookup(tt.plugin)
			if err != nil {
				t.Fatal(err)
			}
			compiled := h.Info().Compiled
			h.Release()
			if compiled == nil {
				t.Fatalf("%s has no compiled input schema", tt.plugin)
			}
			if err := st.Create(ctx, []*task.Task{{ID: "root", TaskTreeID: "root", Name: "root", Status: task.Pending,
				Schemas: map[string]any{"method": tt.plugin}, CreatedAt: time.Now().UTC(), Inputs: tt.inputs}}); err != nil {
				t.Fatal(err)
			}
			res, err := e.Execute(ctx, "root", engine.RunOptions{})
			if err != nil || res.Status != tt.status || !strings.HasPrefix(res.Root.Error, tt.err) {
				t.Fatalf("run: %v, status %s (%q), want %s (%q...)", err, res.Status, res.Root.Error, tt.status, tt.err)
			}
			if n := compiled.Validations(); n != tt.validations {
				t.Fatalf("one execution validated its inputs %d times, want %d", n, tt.validations)
			}
		})
	}
}

// tokenCompleter answers every completion with 7 input and 2 output tokens.
type tokenCompleter struct{}

func (tokenCompleter) Complete(context.Context, llm.Request) (*llm.Response, error) {
	return &llm.Response{Content: "ok", Model: "fake", Usage: llm.Usage{InputTokens: 7, OutputTokens: 2}}, nil
}

// stallCompleter answers its first completion with 7 input and 2 output tokens and
// blocks every later one until the call's context ends.
type stallCompleter struct{ calls atomic.Int32 }

func (c *stallCompleter) Complete(ctx context.Context, _ llm.Request) (*llm.Response, error) {
	if c.calls.Add(1) == 1 {
		return &llm.Response{Content: "ok", Model: "fake", Usage: llm.Usage{InputTokens: 7, OutputTokens: 2}}, nil
	}
	<-ctx.Done()
	return nil, fmt.Errorf("%w: %v", llm.ErrProvider, ctx.Err())
}

// TestPluginLLMUsageRecorded: the tokens of a plugin's llm_complete calls are in the
// task's usage, as stored.
func TestPluginLLMUsageRecorded(t *testing.T) {
	t.Parallel()
	e, st := llmEngine(t, tokenCompleter{})
	runLLMTask(t, e, st, task.Limits{}, task.Completed)
}

// TestPluginLLMUsageOfAFailedCall: a call that fails after an llm_complete (here it
// times out in the second one) keeps the tokens of the first in the task's usage: they
// were spent.
func TestPluginLLMUsageOfAFailedCall(t *testing.T) {
	t.Parallel()
	e, st := llmEngine(t, &stallCompleter{})
	got := runLLMTask(t, e, st, task.Limits{TimeoutMS: 300}, task.Failed)
	if got.Usage == nil || got.Usage.LLMInputTokens != 7 || got.Usage.LLMOutputTokens != 2 {
		t.Fatalf("usage = %+v, want 7 input and 2 output tokens", got.Usage)
	}
}

// llmEngine returns an engine running the llm_proxy fixture (granted llm) with c as the
// sandbox's Completer, and its store.
func llmEngine(t *testing.T, c llm.Completer) (*engine.Engine, *badgerstore.Store) {
	t.Helper()
	// llm_proxy calls llm_complete twice with the request under "t" (no metadata: its id
	// is its file name).
	e, _, st := wasmEngine(t, sandbox.Config{
		LLM:    c,
		Grants: func(id string) sandbox.Grants { return sandbox.Grants{LLM: id == "llm_proxy"} },
	}, "llm_proxy")
	return e, st
}

// wasmEngine returns an engine on an in-memory Badger store whose executors are a
// registry holding the sandbox test fixture name (host/sandbox/testdata), run by a
// runtime with cfg; everything closes with the test.
func wasmEngine(t *testing.T, cfg sandbox.Config, name string) (*engine.Engine, *registry.Registry, *badgerstore.Store) {
	t.Helper()
	ctx := context.Background()
	rt, err := sandbox.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	dir := t.TempDir()
	wasm, err := os.ReadFile(filepath.Join("..", "sandbox", "testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, registry.Options{Runtime: rt, Dir: dir, NoMetadataCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e, err := engine.New(engine.Config{Store: st, Catalog: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e, reg, st
}

// runLLMTask runs a task of llm_proxy that asks twice, under limits, and returns it as
// stored; it must end with status want. A completed task's usage must count the tokens
// of tokenCompleter's two answers.
func runLLMTask(t *testing.T, e *engine.Engine, st *badgerstore.Store, limits task.Limits, want task.Status) *task.Task {
	t.Helper()
	ctx := context.Background()
	req := map[string]any{"messages": []any{map[string]any{"role": "user", "content": "hi"}}}
	if err := st.Create(ctx, []*task.Task{
		{ID: "root", TaskTreeID: "root", Name: "root", Status: task.Pending, Schemas: map[string]any{"method": "llm_proxy"},
			CreatedAt: time.Now().UTC(), Inputs: map[string]any{"t": req}, Limits: limits},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Execute(ctx, "root", engine.RunOptions{})
	if err != nil || res.Status != want {
		t.Fatalf("run: %v, status %s (%s), want %s", err, res.Status, res.Root.Error, want)
	}
	got, err := st.Get(ctx, "root")
	if err != nil {
		t.Fatal(err)
	}
	if want == task.Completed && (got.Usage == nil || got.Usage.LLMInputTokens != 14 || got.Usage.LLMOutputTokens != 4) {
		t.Fatalf("usage = %+v, want 14 input and 4 output tokens", got.Usage)
	}
	return got
}
