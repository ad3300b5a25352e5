package pluginrun

import (
	"context"
	"path/filepath"
	"testing"
)

// setup returns a runner and the test plugin testdata/<name>.wasm opened in it, both
// closed when the test ends.
func setup(t testing.TB, name string) (*Runner, *Target) {
	t.Helper()
	ctx := context.Background()
	r, err := New(ctx, Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	tg, err := r.Open(ctx, filepath.Join("testdata", name+".wasm"), "")
	if err != nil {
		t.Fatalf("Open %s: %v", name, err)
	}
	t.Cleanup(tg.Close)
	return r, tg
}
