package engine

import (
	"context"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// blockingCatalog resolves method "slow" as "fake", but its first lookup of "slow" (made
// by the coordinator while it prepares the task's start) signals entered and waits for
// release: a test can queue messages to the run exactly while a start is being prepared.
type blockingCatalog struct {
	executor.Catalog
	entered, release chan struct{}
	once             sync.Once
}

func newBlockingCatalog(inner executor.Catalog) *blockingCatalog {
	return &blockingCatalog{Catalog: inner, entered: make(chan struct{}), release: make(chan struct{})}
}

func (c *blockingCatalog) Lookup(id string) (executor.Handle, error) {
	if id == "slow" {
		c.once.Do(func() {
			close(c.entered)
			<-c.release
		})
		id = "fake"
	}
	return c.Catalog.Lookup(id)
}

// TestCancelBeforeStartCommitNeverExecutes: a cancel that reaches the coordinator in the
// round that queued the task's start (after the slot was taken, before the commit) makes
// the task cancelled, and its executor never runs (docs/semantics.md rule 14).
func TestCancelBeforeStartCommitNeverExecutes(t *testing.T) {
	t.Parallel()
	v := setupStore(t, memStore(t), withConcurrency(1))
	bc := newBlockingCatalog(v.e.cfg.Catalog)
	v.e.cfg.Catalog = bc
	v.create(spec{id: "d-y"}, spec{id: "d-y1", params: map[string]any{"gate": true}})
	v.create(spec{id: "d-x"}, spec{id: "d-x1", method: "slow"})
	ctx := context.Background()
	ry, err := v.e.Start(ctx, "d-y", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "y1 running", func() bool { return v.get("d-y1").Status == task.InProgress })
	rx, err := v.e.Start(ctx, "d-x", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	close(v.cat.gate)
	<-bc.entered // x's coordinator took y1's slot and is preparing x1's start
	done := make(chan struct{})
	go func() {
		if _, err := v.e.Cancel(ctx, "d-x1", "stop"); err != nil {
			t.Errorf("cancel: %v", err)
		}
		close(done)
	}()
	waitFor(t, "cancel queued", func() bool { return len(rx.inbox) == 1 })
	close(bc.release)
	<-done
	<-rx.Done()
	<-ry.Done()
	v.wantStatus("d-x1", task.Cancelled)
	v.cat.mu.Lock()
	n := v.cat.executions["d-x1"]
	v.cat.mu.Unlock()
	if n > 0 {
		t.Fatalf("cancelled task executed %d time(s)", n)
	}
}
