package hooks_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/hooks"
	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// The Runner is the engine's Hooks.
var _ engine.Hooks = (*hooks.Runner)(nil)

// env is one test's hook setup: a sandbox runtime, a registry on a temporary plugins
// directory, an in-memory store and a Runner.
type env struct {
	t      testing.TB
	dir    string
	reg    *registry.Registry
	st     store.Store
	runner *hooks.Runner
	logs   *logbuf.Buffer
}

// options of setup.
type options struct {
	ids    []string // hook chain; default: the plugins, in the given order
	files  []string // testdata/<name>.wasm copied into the plugins dir
	grants map[string]sandbox.Grants
	limits task.Limits
}

// setup builds an env with the test hooks opts.files loaded.
func setup(t testing.TB, opts options) *env {
	t.Helper()
	ctx := context.Background()
	grants := opts.grants
	rt, err := sandbox.New(ctx, sandbox.Config{Grants: func(id string) sandbox.Grants { return grants[id] }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	dir := t.TempDir()
	for _, f := range opts.files {
		copyPlugin(t, dir, f, f)
	}
	logs := &logbuf.Buffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info})
	reg, err := registry.Open(ctx, registry.Options{Runtime: rt, Dir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	if p := reg.Problems(); len(p) > 0 {
		t.Fatalf("test hooks did not load: %v", p)
	}
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	ids := opts.ids
	if ids == nil {
		ids = opts.files
	}
	r, err := hooks.New(hooks.Config{Registry: reg, IDs: ids, Limits: opts.limits, Store: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: dir, reg: reg, st: st, runner: r, logs: logs}
}

// copyPlugin copies testdata/<src>.wasm to <dir>/<dst>.wasm.
func copyPlugin(t testing.TB, dir, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", src+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dst+".wasm"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// newTask returns a stored-looking task of executor method.
func newTask(id, method string, inputs map[string]any) *task.Task {
	now := time.Now().UTC()
	return &task.Task{ID: id, TaskTreeID: id, Name: id, Status: task.InProgress, Priority: task.DefaultPriority,
		Schemas: map[string]any{"method": method}, Inputs: inputs, CreatedAt: now, UpdatedAt: now, StartedAt: now}
}

// create stores tasks as one submission.
func (v *env) create(tasks ...*task.Task) {
	v.t.Helper()
	for i, t := range tasks {
		t.Seq = i
	}
	if err := v.st.Create(context.Background(), tasks); err != nil {
		v.t.Fatal(err)
	}
}

func errStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}
