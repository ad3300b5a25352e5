// Package pluginrun builds a Go plugin for wasip1 and runs its tasks through the real
// engine, sandbox, registry and an in-memory Badger store: the end-to-end setup of the
// example plugins' tests.
package pluginrun

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/store/badgerstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// Env is an engine running one plugin, with grants the test may change between runs.
type Env struct {
	Engine *engine.Engine
	Store  *badgerstore.Store

	mu     sync.Mutex
	grants sandbox.Grants
	seq    int
}

// Build builds the Go plugin in dir (a main package) for wasip1 and returns its bytes.
// It skips the test under -short: building a Go plugin takes seconds.
func Build(t *testing.T, dir string) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("building a wasm plugin is slow; skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "plugin.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", dir, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// New starts an engine whose plugins directory holds wasm as <id>.wasm, with the store
// as the sandbox's kv store; every plugin gets the grants of SetGrants (none at first).
// Everything is closed when the test ends.
func New(t *testing.T, id string, wasm []byte) *Env {
	t.Helper()
	ctx := context.Background()
	env := &Env{}
	st, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	env.Store = st
	rt, err := sandbox.New(ctx, sandbox.Config{KV: st, Grants: func(string) sandbox.Grants {
		env.mu.Lock()
		defer env.mu.Unlock()
		return env.grants
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, id+".wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, registry.Options{Runtime: rt, Dir: dir, NoMetadataCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	e, err := engine.New(engine.Config{Store: st, Catalog: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	env.Engine = e
	return env
}

// SetGrants sets the grants of every plugin from the next execution on.
func (env *Env) SetGrants(g sandbox.Grants) {
	env.mu.Lock()
	defer env.mu.Unlock()
	env.grants = g
}

// Create stores a one-task tree running method with inputs (for user, "" for none)
// and returns its id.
func (env *Env) Create(t *testing.T, method, user string, inputs map[string]any) string {
	t.Helper()
	env.mu.Lock()
	env.seq++
	id := fmt.Sprintf("%s-%d", method, env.seq)
	env.mu.Unlock()
	err := env.Store.Create(context.Background(), []*task.Task{{
		ID: id, TaskTreeID: id, Name: method, Status: task.Pending, UserID: user,
		Schemas: map[string]any{"method": method}, Inputs: inputs, CreatedAt: time.Now().UTC(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Run runs (or re-runs, full when full is set) the tree of root and returns the
// root's status, result and error.
func (env *Env) Run(t *testing.T, root string, full bool) (task.Status, map[string]any, string) {
	t.Helper()
	res, err := env.Engine.Execute(context.Background(), root, engine.RunOptions{Full: full})
	if err != nil {
		t.Fatalf("run %s: %v", root, err)
	}
	var out map[string]any
	if res.Root.Result != nil {
		b, _ := json.Marshal(res.Root.Result)
		_ = json.Unmarshal(b, &out)
	}
	return res.Status, out, res.Root.Error
}
