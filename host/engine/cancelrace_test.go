package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
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

// holdStore delays, once armed, every UpdateMany touching c-a1 until one touching c-b1
// has committed (or 2 s passed), and records after every UpdateMany the largest number of
// tasks of trees c-a and c-b that a reader sees in_progress.
type holdStore struct {
	store.Store
	armed     atomic.Bool
	b1Start   chan struct{}
	b1Once    sync.Once
	maxInProg atomic.Int32
}

func touches(muts []store.Mutation, id string) bool {
	for _, m := range muts {
		if m.ID == id {
			return true
		}
	}
	return false
}

func (h *holdStore) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	if h.armed.Load() && touches(muts, "c-a1") {
		select {
		case <-h.b1Start:
		case <-time.After(2 * time.Second):
		}
	}
	out, err := h.Store.UpdateMany(ctx, muts)
	if err == nil && touches(muts, "c-b1") {
		h.b1Once.Do(func() { close(h.b1Start) })
	}
	n := int32(0)
	for _, tree := range []string{"c-a", "c-b"} {
		ts, terr := h.Store.Tree(ctx, tree)
		if terr != nil {
			continue
		}
		for _, t := range ts {
			if t.Status == task.InProgress {
				n++
			}
		}
	}
	for {
		m := h.maxInProg.Load()
		if n <= m || h.maxInProg.CompareAndSwap(m, n) {
			break
		}
	}
	return out, err
}

// TestCancelThenOutcomeKeepsSlotUntilCommitted: a running task's cancel and its worker's
// outcome reach the coordinator in the same round. The task's slot must stay taken until
// the cancel is committed, so that no other run's start makes a reader see more than
// Config.Concurrency tasks in_progress (docs/semantics.md rules 8 and 14).
func TestCancelThenOutcomeKeepsSlotUntilCommitted(t *testing.T) {
	t.Parallel()
	hs := &holdStore{Store: memStore(t), b1Start: make(chan struct{})}
	v := setupStore(t, hs, withConcurrency(2))
	bc := newBlockingCatalog(v.e.cfg.Catalog)
	v.e.cfg.Catalog = bc
	v.create(spec{id: "c-a"},
		spec{id: "c-a1", priority: prio(0), params: map[string]any{"gate": true}},
		spec{id: "c-a3", priority: prio(0), params: map[string]any{"sleep_ms": 50}},
		spec{id: "c-a2", priority: prio(1), method: "slow", deps: req("c-a3")})
	v.create(spec{id: "c-b"}, spec{id: "c-b1"})
	ctx := context.Background()
	ra, err := v.e.Start(ctx, "c-a", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a1 and a3 running", func() bool {
		return v.get("c-a1").Status == task.InProgress && v.get("c-a3").Status == task.InProgress
	})
	rb, err := v.e.Start(ctx, "c-b", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-bc.entered // A prepares a2's start on a3's retiring slot
	hs.armed.Store(true)
	go func() { _, _ = v.e.Cancel(ctx, "c-a1", "stop") }()
	waitFor(t, "cancel queued", func() bool { return len(ra.inbox) == 1 })
	close(v.cat.gate)
	waitFor(t, "outcome queued", func() bool { return len(ra.inbox) == 2 })
	close(bc.release)
	<-ra.Done()
	<-rb.Done()
	v.wantStatus("c-a1", task.Cancelled)
	if n := hs.maxInProg.Load(); n > 2 {
		t.Fatalf("the store showed %d tasks in_progress with Concurrency 2", n)
	}
}
