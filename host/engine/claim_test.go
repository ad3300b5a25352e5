package engine

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestClaimRegistryKeepsALaterClaim: ending an old claim of a task (its node lost it and
// claimed the task again) neither forgets nor reports lost the later claim.
func TestClaimRegistryKeepsALaterClaim(t *testing.T) {
	m := newMember(nil)
	old := cluster.Claim{Task: &task.Task{ID: "x"}, Token: 1}
	m.register(old, func() {})
	m.claims["x"].lost.Store(true)
	m.register(cluster.Claim{Task: &task.Task{ID: "x"}, Token: 2}, func() {})
	if m.lostClaim("x", 2) {
		t.Error("the later claim reported lost")
	}
	if lost := m.settle("x", 1); lost {
		t.Error("settling the old claim reported the later one lost")
	}
	if _, ok := m.claims["x"]; !ok {
		t.Fatal("settling the old claim forgot the later one")
	}
	if stopped := m.stopClaims(cluster.ClaimRef{TaskID: "x", Token: 1}); len(stopped) != 0 {
		t.Errorf("stopping the old claim stopped %v", stopped)
	}
	m.settle("x", 2)
	if _, ok := m.claims["x"]; ok {
		t.Error("the later claim is still registered after it settled")
	}
}
