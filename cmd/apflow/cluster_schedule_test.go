package main

import (
	"regexp"
	"strings"
	"testing"
)

// occurrenceLine is the scheduler's log line of a fire, with the occurrence it claimed.
var occurrenceLine = regexp.MustCompile(`scheduled run started: occurrence=(\S+)`)

// TestClusterScheduleFiresOnce: two apflow serve nodes on one PostgreSQL database run a
// scheduled tree; every occurrence is fired by exactly one node (no occurrence appears
// in two nodes' logs), and the fires are the schedule's run_count.
func TestClusterScheduleFiresOnce(t *testing.T) {
	t.Parallel()
	c := setupCluster(t, 2, 4)
	method := map[string]any{"method": "delay"}
	c.nodes[0].mustCall(t, "", "tasks.create", []map[string]any{
		{"id": "cs-root", "name": "root", "schemas": method, "inputs": map[string]any{"duration_ms": 1, "steps": 1},
			"dependencies":  []string{"cs-child"},
			"schedule_type": "interval", "schedule_expression": "1", "schedule_enabled": true, "max_runs": 4},
		{"id": "cs-child", "name": "child", "parent_id": "cs-root", "schemas": method, "inputs": map[string]any{"duration_ms": 1, "steps": 1}},
	}, nil)
	var root scheduledWire
	c.waitFor(t, "the schedule to run 4 times and disable itself", func() bool {
		c.nodes[1].mustCall(t, "", "tasks.get", map[string]any{"task_id": "cs-root"}, &root)
		// The last claim disables the schedule before its run starts: wait for the run.
		return root.RunCount == 4 && !root.ScheduleEnabled && root.Status == "completed" && root.Attempts == 4
	})
	seen := map[string]string{}
	fires := 0
	for _, n := range c.nodes {
		for _, m := range occurrenceLine.FindAllStringSubmatch(n.stderr.String(), -1) {
			if other, ok := seen[m[1]]; ok {
				t.Fatalf("occurrence %s fired by %s and %s\n%s", m[1], other, n.id, c.logs())
			}
			seen[m[1]] = n.id
			fires++
		}
		if strings.Contains(n.stderr.String(), "this occurrence is lost") {
			t.Errorf("%s lost an occurrence:\n%s", n.id, n.stderr)
		}
	}
	if fires != root.RunCount {
		t.Fatalf("%d fires in the logs, run_count %d\n%s", fires, root.RunCount, c.logs())
	}
}
