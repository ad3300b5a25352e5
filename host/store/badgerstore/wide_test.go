package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// wideTree returns an aggregator: root "w" depending on n children, the shape whose
// root carries one dependents entry per child.
func wideTree(n int) []*task.Task {
	root := mk("w", "", 0)
	ts := []*task.Task{root}
	for i := range n {
		id := fmt.Sprintf("w%d", i)
		ts = append(ts, mk(id, "w", i+1))
		root.Dependencies = append(root.Dependencies, task.Dependency{ID: id, Required: true})
	}
	return ts
}

// TestWideTreeWrites runs the writes a run makes to the root of an aggregator wider than
// one transaction: each must be small, whatever the width of the tree.
func TestWideTreeWrites(t *testing.T) {
	t.Parallel()
	const n = 3000 // dependents entries: about twice what one transaction takes
	now := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		fn   func(*task.Task) error
	}{
		{"Start", func(x *task.Task) error { return x.Start(now) }},
		{"Cancel", func(x *task.Task) error { return x.Cancel("stop", now) }},
		{"RunMarker", func(x *task.Task) error { x.Run = &task.RunMarker{StartedAt: now}; return nil }},
		{"StartCompleteReset", func(x *task.Task) error {
			if err := x.Start(now); err != nil {
				return err
			}
			if err := x.Complete(map[string]any{"n": n}, now); err != nil {
				return err
			}
			return x.Reset(now)
		}},
	} {
		for _, mem := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/InMemory=%v", c.name, mem), func(t *testing.T) {
				t.Parallel()
				s := setup(t, Options{InMemory: mem, MemTableSize: 1 << 20})
				ctx := t.Context()
				if err := s.Create(ctx, wideTree(n)); err != nil {
					t.Fatal(err)
				}
				got, err := s.Update(ctx, "w", c.fn)
				if err != nil {
					t.Fatalf("Update of the root of %d: %v", n, err)
				}
				kids, err := s.Dependents(ctx, "w7")
				if err != nil || len(kids) != 1 || kids[0].Status != got.Status {
					t.Fatalf("Dependents(w7) = %v, %v; want the root, %s", kids, err, got.Status)
				}
				if m, err := s.Count(ctx, store.Filter{Status: got.Status, RootOnly: true}); err != nil || m != 1 {
					t.Fatalf("roots %s: %d, %v", got.Status, m, err)
				}
				checkIndexes(t, s)
			})
		}
	}
}

// undoRecords counts the stored undo records of big writes.
func undoRecords(t *testing.T, s *Store) int { return countKeys(t, s, []byte{prefixUndo}) }

// TestBigWrites deletes and updates a whole tree whose writes exceed one transaction:
// committed in chunks, all or nothing, with no undo record left.
func TestBigWrites(t *testing.T) {
	t.Parallel()
	const n = 3000
	now := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		write func(ctx context.Context, s *Store, ids []string) error
		check func(t *testing.T, s *Store)
	}{
		{"Delete", func(ctx context.Context, s *Store, ids []string) error {
			return s.Delete(ctx, ids)
		}, func(t *testing.T, s *Store) {
			if m, err := s.Count(t.Context(), store.Filter{}); err != nil || m != 1 {
				t.Fatalf("Count after deleting the tree = %d, %v; want 1", m, err)
			}
		}},
		{"UpdateMany", func(ctx context.Context, s *Store, ids []string) error {
			muts := make([]store.Mutation, len(ids))
			for i, id := range ids {
				muts[i] = store.Mutation{ID: id, Fn: func(x *task.Task) error { return x.Cancel("stop", now) }}
			}
			out, err := s.UpdateMany(ctx, muts)
			if err == nil && len(out) != len(ids) {
				return fmt.Errorf("UpdateMany returned %d tasks", len(out))
			}
			return err
		}, func(t *testing.T, s *Store) {
			if m, err := s.Count(t.Context(), store.Filter{Status: task.Cancelled}); err != nil || m != n+1 {
				t.Fatalf("cancelled = %d, %v; want %d", m, err, n+1)
			}
		}},
	} {
		for _, mem := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/InMemory=%v", c.name, mem), func(t *testing.T) {
				t.Parallel()
				s := setup(t, Options{InMemory: mem, MemTableSize: 1 << 20})
				ctx := t.Context()
				ts := wideTree(n)
				if err := s.Create(ctx, append(ts, mk("other", "", 0))); err != nil {
					t.Fatal(err)
				}
				ids := make([]string, len(ts))
				for i, x := range ts {
					ids[i] = x.ID
				}
				chunks := 0
				s.c.testChunkHook = func(int) { chunks++ }
				if err := c.write(ctx, s, ids); err != nil {
					t.Fatalf("%s of a tree of %d: %v", c.name, len(ids), err)
				}
				if chunks < 2 {
					t.Fatalf("%d chunks: the test needs a write over several transactions", chunks)
				}
				c.check(t, s)
				if m := undoRecords(t, s); m != 0 {
					t.Fatalf("%d undo records left", m)
				}
				checkIndexes(t, s)
			})
		}
	}
}

// TestBigWriteCrash stops a big Delete after two chunks, as a crash would: the next Open
// restores what the chunks deleted, also when it opens with smaller memtables, whose
// transactions are too small for a chunk of the writer's.
func TestBigWriteCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		mem, reopenMemory int64
	}{
		{"same memtables", 1 << 20, 1 << 20},
		{"reopened with smaller memtables", 4 << 20, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := Open(Options{Dir: dir, MemTableSize: tc.mem})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			ids := createWide(t, s, 3000)
			crashAtChunk(&s.c.testChunkHook, 1, func() { _ = s.c.commitBig(mustDeleteWrites(t, s, ids)) })
			if m := undoRecords(t, s); m != 2 {
				t.Fatalf("%d undo records after the crash, want 2", m)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = setup(t, Options{Dir: dir, MemTableSize: tc.reopenMemory})
			if got := s.db.Opts().MemTableSize; got != tc.reopenMemory {
				t.Fatalf("reopened with %d-byte memtables, want %d", got, tc.reopenMemory)
			}
			if m, err := s.Count(ctx, store.Filter{}); err != nil || m != len(ids) {
				t.Fatalf("Count after reopen = %d, %v; want %d", m, err, len(ids))
			}
			if m := undoRecords(t, s); m != 0 {
				t.Fatalf("%d undo records after reopen", m)
			}
			checkIndexes(t, s)
		})
	}
}

// createWide stores wideTree(n) in s and returns its ids.
func createWide(t *testing.T, s *Store, n int) []string {
	t.Helper()
	ts := wideTree(n)
	if err := s.Create(t.Context(), ts); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(ts))
	for i, x := range ts {
		ids[i] = x.ID
	}
	return ids
}

// mustDeleteWrites returns the writes of a Delete of ids.
func mustDeleteWrites(t *testing.T, s *Store, ids []string) []write {
	t.Helper()
	var ws []write
	err := s.db.View(func(txn *badger.Txn) error {
		for _, id := range ids {
			x, err := s.readTask(txn, id)
			if err != nil {
				return err
			}
			ws = append(ws, write{key: taskKey(id), del: true})
			for _, e := range indexEntries(x) {
				ws = append(ws, write{key: e.key, del: true})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestFailedUndoStopsTheStore: a big Delete fails after two chunks and the undo of
// those fails too, wholly or from its oldest chunk. The store then refuses the job queued
// behind it in the same round, every later write and every read (it holds part of the
// Delete, and the next Open would restore the undo records over a later write);
// reopened, it finishes the undo and holds every task again.
func TestFailedUndoStopsTheStore(t *testing.T) {
	t.Parallel()
	for _, inMemory := range []bool{false, true} {
		for _, failedRestore := range []int{-1, 0} { // -1: every chunk's
			t.Run(fmt.Sprintf("in memory %v, failed restore %d", inMemory, failedRestore), func(t *testing.T) {
				t.Parallel()
				opts := Options{MemTableSize: 1 << 20, InMemory: inMemory}
				if !inMemory {
					opts.Dir = t.TempDir()
				}
				s, err := Open(opts)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				ctx := t.Context()
				ids := createWide(t, s, 3000)
				s.c.testBigWriteErr = func(restore bool, chunk int) error {
					if (!restore && chunk == 2) || (restore && (failedRestore < 0 || chunk == failedRestore)) {
						return errors.New("disk failure")
					}
					return nil
				}
				deletes := mustDeleteWrites(t, s, ids)
				release := holdCommitter(t, s) // the Delete and a small write form one round
				big := s.c.queue.Enqueue(ctx, func(*badger.Txn) ([]write, error) { return deletes, nil })
				small := s.c.queue.Enqueue(ctx, func(*badger.Txn) ([]write, error) {
					return []write{{key: []byte("zz-small"), value: []byte{1}}}, nil
				})
				release()
				const stopped = "accepts no more reads or writes"
				for name, err := range map[string]error{
					"the Delete":          big(),
					"the write behind it": small(),
					"a later Create":      s.Create(ctx, []*task.Task{mk("later", "", 0)}),
					"a read":              func() error { _, err := s.Get(ctx, ids[1]); return err }(),
				} {
					if err == nil || !strings.Contains(err.Error(), stopped) {
						t.Errorf("%s: %v, want an error saying the store %s", name, err, stopped)
					}
				}
				err = s.db.View(func(txn *badger.Txn) error { _, err := txn.Get([]byte("zz-small")); return err })
				if !errors.Is(err, badger.ErrKeyNotFound) {
					t.Errorf("the write behind the Delete was stored: %v", err)
				}
				if inMemory {
					return
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = setup(t, Options{Dir: opts.Dir, MemTableSize: 1 << 20})
				if n, err := s.Count(ctx, store.Filter{}); err != nil || n != len(ids) {
					t.Fatalf("Count after reopen = %d, %v; want %d", n, err, len(ids))
				}
				if m := undoRecords(t, s); m != 0 {
					t.Fatalf("%d undo records after reopen", m)
				}
				checkIndexes(t, s)
			})
		}
	}
}
