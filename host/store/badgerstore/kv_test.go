package badgerstore

import (
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/storetest"
)

func TestKVConformance(t *testing.T) {
	t.Parallel()
	onDiskAndInMemory(t, func(t *testing.T, newStore func(*testing.T) *Store) { storetest.RunKV(t, newStore) })
}

// TestKVSurvivesReopen: entries, their expiry and the usage are on disk.
func TestKVSurvivesReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sp := store.KVSpace{Plugin: "cache"}
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	q := store.KVQuota{MaxBytes: 100, MaxKeys: 10}
	for _, e := range []store.KVEntry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("22"), ExpiresAt: now.Add(time.Hour)}} {
		if _, err := s.KVSet(t.Context(), store.KVSetRequest{Space: sp, Entry: e, Quota: q, Now: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = setup(t, Options{Dir: dir})
	e, ok, err := s.KVGet(t.Context(), sp, "b", now)
	if err != nil || !ok || string(e.Value) != "22" || !e.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("KVGet after reopen = %+v, %v, %v", e, ok, err)
	}
	if u, err := s.KVUsage(t.Context(), sp); err != nil || u != (store.KVUsage{Bytes: 5, Keys: 2}) {
		t.Fatalf("KVUsage after reopen = %+v, %v", u, err)
	}
	if _, ok, _ := s.KVGet(t.Context(), sp, "b", now.Add(time.Hour)); ok {
		t.Fatal("an entry past its expiry is visible after reopen")
	}
}
