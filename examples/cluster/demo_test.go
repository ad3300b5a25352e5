// Package cluster holds the cluster demo (make cluster-demo): demo.sh starts a
// throw-away PostgreSQL and three apflow serve nodes that share a 60-task tree.
package cluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestClusterDemo runs demo.sh as make cluster-demo does, with a binary built from this
// tree, and checks what it prints: the run completed, every node executed tasks, and
// each task was executed once.
func TestClusterDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and three apflow serve nodes")
	}
	if _, err := exec.LookPath("initdb"); err != nil && !postgresInstalled() {
		if os.Getenv("APFLOW_REQUIRE_PG") != "" {
			t.Fatal("PostgreSQL's initdb not found (make setup installs it)")
		}
		t.Skip("PostgreSQL's initdb not found")
	}
	plugins, err := filepath.Abs("../../build/plugins")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(plugins, "delay.wasm")); err != nil {
		t.Fatalf("the delay plugin is not built (make plugins): %v", err)
	}
	bin := apflowbin.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "demo.sh")
	cmd.Env = append(os.Environ(), "APFLOW="+bin, "PLUGDIR="+plugins, "TASKS=20", "TASK_MS=50")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"21 tasks: 21 completed", "21 task executions for 21 tasks"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo.sh does not say %q:\n%s", want, out)
		}
	}
}

// postgresInstalled reports whether Debian's PostgreSQL server binaries are installed,
// where demo.sh looks first.
func postgresInstalled() bool {
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	return len(m) > 0
}
