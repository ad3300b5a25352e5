package badgerstore

import (
	"errors"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

func keyRecord(key string, ts []*task.Task) store.KeyRecord {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	return store.KeyRecord{Key: key, Digest: "d-" + ts[0].ID, RootID: ts[0].ID, TreeID: ts[0].TreeID(),
		Count: len(ts), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// TestChunkedCreateKeyTaken: a submission too big for one commit whose key another
// create recorded meanwhile is refused at its last commit and undone whole.
func TestChunkedCreateKeyTaken(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20})
	ctx := t.Context()
	small := []*task.Task{mk("small", "", 0)}
	first := keyRecord("k", small)
	s.testChunkHook = func(i int) {
		if i == 0 { // between the chunks: the key is recorded by another create
			if err := s.CreateKeyed(ctx, first, store.Tasks(small)); err != nil {
				t.Errorf("CreateKeyed of the small tree: %v", err)
			}
		}
	}
	big := bigTree("big", 3000)
	err := s.CreateKeyed(ctx, keyRecord("k", big), store.Tasks(big))
	var taken *store.KeyTakenError
	if !errors.As(err, &taken) || taken.Record.RootID != "small" {
		t.Fatalf("CreateKeyed of the big tree = %v, want the key taken by small", err)
	}
	if n, err := s.Count(ctx, store.Filter{}); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1 (the big tree undone)", n, err)
	}
	if m := markers(t, s); m != 0 {
		t.Fatalf("%d markers left", m)
	}
	checkIndexes(t, s)
}

// TestChunkedCreateKeyCrash: a crash in the middle of a chunked keyed create leaves
// neither the tasks nor the key after the next Open, so a retry creates the tree.
func TestChunkedCreateKeyCrash(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	big := bigTree("cr", 3000)
	rec := keyRecord("k", big)
	crashAtChunk(&s.testChunkHook, 1, func() { _ = s.CreateKeyed(ctx, rec, store.Tasks(big)) })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = setup(t, Options{Dir: dir, MemTableSize: 1 << 20})
	if _, ok, err := s.LookupKey(ctx, "", "k", rec.CreatedAt); err != nil || ok {
		t.Fatalf("LookupKey after the crash = %v, %v; want no record", ok, err)
	}
	if err := s.CreateKeyed(ctx, rec, store.Tasks(bigTree("cr", 3000))); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got, ok, err := s.LookupKey(ctx, "", "k", rec.CreatedAt); err != nil || !ok || got.Count != 3000 {
		t.Fatalf("LookupKey after the retry = %+v, %v, %v", got, ok, err)
	}
}
