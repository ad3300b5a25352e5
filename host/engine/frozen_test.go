package engine

import (
	"context"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestRerunNeverExecutesLinks: links never run (docs/semantics.md rule 16), not even when
// a re-run resets what lies downstream of a failed task, nor when a run targets the link.
func TestRerunNeverExecutesLinks(t *testing.T) {
	t.Parallel()
	t.Run("downstream of a failed copy", func(t *testing.T) {
		t.Parallel()
		v := setup(t)
		cloneFixture(v, "rm-")
		out, err := v.e.Clone(context.Background(), "rm-root", CloneOptions{Mode: CloneMixed, LinkTaskIDs: []string{"rm-mid"}})
		if err != nil {
			t.Fatal(err)
		}
		by := byOriginal(out)
		link, up := by["rm-mid"], by["rm-up"]
		v.cat.mu.Lock()
		v.cat.failOnce[up.ID] = true
		v.cat.mu.Unlock()
		v.run(out[0].ID, RunOptions{})
		res := v.run(out[0].ID, RunOptions{})
		l := v.get(link.ID)
		if l.Status != task.Completed || !l.StartedAt.Equal(link.StartedAt) || l.Error != "" {
			t.Fatalf("the re-run executed the link: status %s error %q", l.Status, l.Error)
		}
		if res.Status != task.Completed {
			t.Fatalf("re-run of the tree = %+v, want completed", res)
		}
	})
	t.Run("targeted by task id", func(t *testing.T) {
		t.Parallel()
		v := setup(t)
		cloneFixture(v, "rv-")
		out, err := v.e.Clone(context.Background(), "rv-up", CloneOptions{Mode: CloneLink})
		if err != nil {
			t.Fatal(err)
		}
		link := out[0]
		v.run(link.ID, RunOptions{TaskID: link.ID})
		l := v.get(link.ID)
		if l.Status != task.Completed || !l.StartedAt.Equal(link.StartedAt) || l.Error != "" {
			t.Fatalf("the run executed the link: status %s error %q", l.Status, l.Error)
		}
	})
}

// TestRunOfArchivedTaskIsRefused: an archived task is frozen (docs/semantics.md rule 16):
// a run that targets it leaves it as it is.
func TestRunOfArchivedTaskIsRefused(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cloneFixture(v, "ra-")
	if _, err := v.e.Clone(context.Background(), "ra-root", CloneOptions{Mode: CloneArchive}); err != nil {
		t.Fatal(err)
	}
	before := v.get("ra-up")
	v.run("ra-root", RunOptions{TaskID: "ra-up"})
	after := v.get("ra-up")
	if !after.StartedAt.Equal(before.StartedAt) || after.Status != task.Completed {
		t.Fatalf("archived task re-run: status %s (executions %d)", after.Status, v.cat.executions["ra-up"])
	}
}
