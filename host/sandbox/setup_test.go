package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// setup returns a runtime with cfg, closed when the test ends.
func setup(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	rt, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// wasmFile reads testdata/<name>.wasm.
func wasmFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatalf("read test plugin: %v", err)
	}
	return b
}

// load loads testdata/<name>.wasm into rt.
func load(t testing.TB, rt *Runtime, name string) *Module {
	t.Helper()
	m, err := rt.Load(context.Background(), wasmFile(t, name), name+".wasm")
	if err != nil {
		t.Fatalf("Load %s: %v", name, err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// newLogger returns a logger writing to a buffer at trace level.
func newLogger() (hclog.Logger, *logbuf.Buffer) {
	buf := &logbuf.Buffer{}
	return hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Trace, Name: "task"}), buf
}

func mustContain(t testing.TB, what, s, want string) {
	t.Helper()
	if !strings.Contains(s, want) {
		t.Fatalf("%s = %q, want it to contain %q", what, s, want)
	}
}
