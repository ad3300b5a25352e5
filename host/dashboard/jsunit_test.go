package dashboard

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestJSUnits runs the node tests of the dashboard's JavaScript modules
// (assets/js/*.test.mjs: the schema validator and the form on a fake document). It
// skips when node is not on PATH, unless APFLOW_REQUIRE_KITS is set (CI), which makes
// that a failure.
func TestJSUnits(t *testing.T) {
	node := nodeOrSkip(t)
	dir, err := filepath.Abs(filepath.Join("assets", "js"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", dir+string(filepath.Separator))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test %s: %v\n%s", dir, err, out)
	}
}

// nodeOrSkip returns the path of node, skipping the test when there is none, unless
// APFLOW_REQUIRE_KITS is set (then it fails).
func nodeOrSkip(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("APFLOW_REQUIRE_KITS") != "" {
			t.Fatalf("node not found (needed for the dashboard's JavaScript tests): %v", err)
		}
		t.Skipf("node not found: the dashboard's JavaScript tests need it: %v", err)
	}
	return node
}
