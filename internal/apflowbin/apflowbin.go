// Package apflowbin builds the apflow binary for the tests that run it as its users do.
package apflowbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// root is the repository's root directory: this file's, two levels up.
func root(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("apflowbin: cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Modules returns the absolute path of dir (relative to the repository's root, e.g.
// "build/plugins") after checking that it holds <name>.wasm for each of names; it fails
// t, naming target (the make target that builds them), if one is missing.
func Modules(t testing.TB, dir, target string, names ...string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(root(t), dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(abs, n+".wasm")); err != nil {
			t.Fatalf("%s is not built (%s): %v", n, target, err)
		}
	}
	return abs
}

// Build builds cmd/apflow as make build does (static: CGO_ENABLED=0) into a temporary
// directory of t and returns the binary's path. It fails t if the build fails.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "apflow")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	cmd := exec.Command("go", "build", "-o", bin, "github.com/apflow-wasm/apflow/cmd/apflow")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
