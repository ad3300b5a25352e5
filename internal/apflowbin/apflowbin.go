// Package apflowbin builds the apflow binary for the tests that run it as its users do.
package apflowbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

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
