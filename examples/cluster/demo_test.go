// Package cluster holds the cluster demo (make cluster-demo): demo.sh starts a
// throw-away PostgreSQL and three apflow serve nodes that share a 60-task tree.
package cluster

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
	"github.com/apflow-wasm/apflow/internal/pgtest"
)

// TestClusterDemo runs demo.sh as make cluster-demo does, with a binary built from this
// tree, and checks what it prints: the run completed, every node executed tasks, and
// each task was executed once.
func TestClusterDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and three apflow serve nodes")
	}
	if !pgtest.Installed() {
		if os.Getenv(pgtest.RequireEnv) != "" {
			t.Fatal("PostgreSQL's initdb and postgres not found (make setup installs them)")
		}
		t.Skip("PostgreSQL's initdb and postgres not found")
	}
	plugins := apflowbin.Modules(t, "build/plugins", "make plugins", "delay")
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
