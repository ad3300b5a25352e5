// Package schedule holds the schedule demo (make demo-schedule): demo.sh submits
// tree.json to apflow serve, whose scheduler runs it every 3 s until its max_runs.
package schedule

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestScheduleDemo runs demo.sh as make demo-schedule does, with a binary built from
// this tree, and checks that the scheduler ran the tree max_runs (4) times, then
// disabled its schedule, the last run completed.
func TestScheduleDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs apflow serve for about 15 s")
	}
	plugins := apflowbin.Modules(t, "build/plugins", "make plugins", "text_stats")
	bin := apflowbin.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "examples/schedule/demo.sh")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "BIN="+bin, "PLUGDIR="+plugins)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^run_count=4 .* status="completed" schedule_enabled=false$`).Match(out) {
		t.Errorf("demo.sh does not show the fourth run completed and the schedule disabled:\n%s", out)
	}
}
