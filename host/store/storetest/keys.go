package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// KeyedStore is a store that records idempotency keys.
type KeyedStore interface {
	store.Store
	store.Keys
}

// RunKeys runs the conformance suite of store.Keys. newStore must return a new, empty
// store for each call; RunKeys closes it when the subtest ends.
func RunKeys[S KeyedStore](t *testing.T, newStore func(t *testing.T) S) {
	runSuite(t, func(t *testing.T) KeyedStore { return newStore(t) }, keyCases)
}

var keyCases = []storeCase[KeyedStore]{
	{"CreateKeyedRoundTrip", testKeyRoundTrip},
	{"KeyTakenStoresNothing", testKeyTaken},
	{"KeyScopesAreSeparate", testKeyScopes},
	{"ExpiredKeyIsFree", testKeyExpired},
	{"FailedCreateRecordsNoKey", testKeyFailedCreate},
	{"ConcurrentKeyedCreates", testKeyConcurrent},
	{"PurgeKeys", testKeyPurge},
	{"CheckKey", testKeyCheck},
}

// rec returns a record of key in scope for the tree of tasks, created at base+at and
// holding for ttl.
func rec(scope, key string, tasks []*task.Task, at, ttl time.Duration) store.KeyRecord {
	created := base.Add(at)
	return store.KeyRecord{Scope: scope, Key: key, Digest: "digest-" + tasks[0].ID, RootID: tasks[0].ID,
		TreeID: tasks[0].TreeID(), Count: len(tasks), CreatedAt: created, ExpiresAt: created.Add(ttl)}
}

func lookup(t *testing.T, s KeyedStore, scope, key string, now time.Time) (store.KeyRecord, bool) {
	t.Helper()
	got, ok, err := s.LookupKey(ctx(t), scope, key, now)
	if err != nil {
		t.Fatalf("LookupKey(%q, %q): %v", scope, key, err)
	}
	return got, ok
}

func wantRecord(t *testing.T, what string, got, want store.KeyRecord) {
	t.Helper()
	want = store.NormalizeKey(want)
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		got.CreatedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
		t.Fatalf("%s: times %v..%v, want %v..%v in UTC", what, got.CreatedAt, got.ExpiresAt, want.CreatedAt, want.ExpiresAt)
	}
	got.CreatedAt, got.ExpiresAt = want.CreatedAt, want.ExpiresAt
	if got != want {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
}

func wantTaken(t *testing.T, err error, want store.KeyRecord) {
	t.Helper()
	var taken *store.KeyTakenError
	if !errors.As(err, &taken) {
		t.Fatalf("error = %v, want *store.KeyTakenError", err)
	}
	wantRecord(t, "taken record", taken.Record, want)
}

func testKeyRoundTrip(t *testing.T, s KeyedStore) {
	ts := tree("k")
	r := rec("alice", "key-1", ts, 1500*time.Nanosecond, time.Hour) // sub-microsecond part dropped
	if err := s.CreateKeyed(ctx(t), r, store.Tasks(ts)); err != nil {
		t.Fatalf("CreateKeyed: %v", err)
	}
	got, err := s.Tree(ctx(t), "ktree")
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "tree", got, "kr", "ka", "kb", "kc")
	rg, ok := lookup(t, s, "alice", "key-1", r.CreatedAt)
	if !ok {
		t.Fatal("LookupKey: not found right after CreateKeyed")
	}
	wantRecord(t, "LookupKey", rg, r)
	if _, ok := lookup(t, s, "alice", "key-2", r.CreatedAt); ok {
		t.Fatal("LookupKey of another key found a record")
	}
}

func testKeyTaken(t *testing.T, s KeyedStore) {
	first, second := tree("a"), tree("b")
	r1 := rec("", "k", first, 0, time.Hour)
	if err := s.CreateKeyed(ctx(t), r1, store.Tasks(first)); err != nil {
		t.Fatal(err)
	}
	r2 := rec("", "k", second, time.Minute, time.Hour)
	wantTaken(t, s.CreateKeyed(ctx(t), r2, store.Tasks(second)), r1)
	wantMissing(t, s, ids(second)...)
	got, _ := lookup(t, s, "", "k", base)
	wantRecord(t, "record after the refused create", got, r1)
	// A key taken with the very tasks it names: refused on the key, not on the ids.
	wantTaken(t, s.CreateKeyed(ctx(t), rec("", "k", first, time.Minute, time.Hour), store.Tasks(tree("a"))), r1)
}

func testKeyScopes(t *testing.T, s KeyedStore) {
	a, b := tree("a"), tree("b")
	ra, rb := rec("alice", "k", a, 0, time.Hour), rec("bob", "k", b, 0, time.Hour)
	for _, c := range []struct {
		r  store.KeyRecord
		ts []*task.Task
	}{{ra, a}, {rb, b}} {
		if err := s.CreateKeyed(ctx(t), c.r, store.Tasks(c.ts)); err != nil {
			t.Fatalf("CreateKeyed(%s): %v", c.r.Scope, err)
		}
	}
	for _, r := range []store.KeyRecord{ra, rb} {
		got, ok := lookup(t, s, r.Scope, "k", base)
		if !ok {
			t.Fatalf("key of %s not found", r.Scope)
		}
		wantRecord(t, r.Scope, got, r)
	}
	if _, ok := lookup(t, s, "", "k", base); ok {
		t.Fatal("the empty scope sees another scope's key")
	}
}

func testKeyExpired(t *testing.T, s KeyedStore) {
	first, second := tree("a"), tree("b")
	r1 := rec("", "k", first, 0, time.Hour)
	if err := s.CreateKeyed(ctx(t), r1, store.Tasks(first)); err != nil {
		t.Fatal(err)
	}
	if _, ok := lookup(t, s, "", "k", r1.ExpiresAt.Add(-time.Microsecond)); !ok {
		t.Fatal("key not found a microsecond before it expires")
	}
	if _, ok := lookup(t, s, "", "k", r1.ExpiresAt); ok {
		t.Fatal("key found at its expiry")
	}
	// Still stored until purged, but free: a create after the expiry replaces it.
	r2 := rec("", "k", second, time.Hour, time.Hour)
	if err := s.CreateKeyed(ctx(t), r2, store.Tasks(second)); err != nil {
		t.Fatalf("CreateKeyed over an expired key: %v", err)
	}
	got, ok := lookup(t, s, "", "k", r2.CreatedAt)
	if !ok {
		t.Fatal("replacing key not found")
	}
	wantRecord(t, "replacing key", got, r2)
	get(t, s, "ar") // the first tree stays
	get(t, s, "br")
}

func testKeyFailedCreate(t *testing.T, s KeyedStore) {
	create(t, s, mk("taken", "", 0))
	ts := []*task.Task{mk("fresh", "", 1), mk("taken", "", 2)}
	r := rec("", "k", ts, 0, time.Hour)
	wantCode(t, s.CreateKeyed(ctx(t), r, store.Tasks(ts)), apferr.InvalidParams)
	wantMissing(t, s, "fresh")
	if _, ok := lookup(t, s, "", "k", base); ok {
		t.Fatal("a refused create recorded its key")
	}
	// The key is free for the next try.
	ok := []*task.Task{mk("fresh", "", 1)}
	if err := s.CreateKeyed(ctx(t), rec("", "k", ok, 0, time.Hour), store.Tasks(ok)); err != nil {
		t.Fatalf("CreateKeyed after a refused one: %v", err)
	}
}

func testKeyConcurrent(t *testing.T, s KeyedStore) {
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts := tree(fmt.Sprintf("c%d", i))
			errs[i] = s.CreateKeyed(context.Background(), rec("u", "same", ts, 0, time.Hour), store.Tasks(ts))
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("creates %d and %d both succeeded with one key", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no create succeeded: %v", errs)
	}
	want := rec("u", "same", tree(fmt.Sprintf("c%d", winner)), 0, time.Hour)
	for i, err := range errs {
		if i == winner {
			continue
		}
		wantTaken(t, err, want)
		wantMissing(t, s, fmt.Sprintf("c%dr", i))
	}
	got, _ := lookup(t, s, "u", "same", base)
	wantRecord(t, "record", got, want)
}

func testKeyPurge(t *testing.T, s KeyedStore) {
	var recs []store.KeyRecord
	for i := range 5 {
		ts := []*task.Task{mk(fmt.Sprintf("p%d", i), "", i)}
		r := rec("", fmt.Sprintf("k%d", i), ts, 0, time.Duration(i+1)*time.Hour)
		if err := s.CreateKeyed(ctx(t), r, store.Tasks(ts)); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	now := base.Add(3 * time.Hour) // k0, k1, k2 expired (k2 exactly now)
	n, err := s.PurgeKeys(ctx(t), now)
	if err != nil || n != 3 {
		t.Fatalf("PurgeKeys = %d, %v; want 3 purged", n, err)
	}
	for i, r := range recs {
		_, ok := lookup(t, s, "", r.Key, base) // before any expiry: only what was purged is gone
		if want := i >= 3; ok != want {
			t.Fatalf("%s found = %v after the purge, want %v", r.Key, ok, want)
		}
	}
	if n, err := s.PurgeKeys(ctx(t), now); err != nil || n != 0 {
		t.Fatalf("second PurgeKeys = %d, %v; want 0", n, err)
	}
	get(t, s, "p0") // purging a key leaves its tree
}

func testKeyCheck(t *testing.T, s KeyedStore) {
	ts := tree("x")
	for _, c := range []struct {
		name  string
		edit  func(r *store.KeyRecord)
		field string
	}{
		{"empty key", func(r *store.KeyRecord) { r.Key = "" }, "idempotency_key"},
		{"blank key", func(r *store.KeyRecord) { r.Key = "  " }, "idempotency_key"},
		{"long key", func(r *store.KeyRecord) { r.Key = strings.Repeat("k", store.MaxKeyLen+1) }, "idempotency_key"},
		{"NUL in key", func(r *store.KeyRecord) { r.Key = "a\x00b" }, "idempotency_key"},
		{"bad UTF-8 in key", func(r *store.KeyRecord) { r.Key = "a\xffb" }, "idempotency_key"},
		{"NUL in scope", func(r *store.KeyRecord) { r.Scope = "a\x00b" }, "scope"},
		{"expiry not after creation", func(r *store.KeyRecord) { r.ExpiresAt = r.CreatedAt }, ""},
	} {
		r := rec("", "k", ts, 0, time.Hour)
		c.edit(&r)
		err := s.CreateKeyed(ctx(t), r, store.Tasks(ts))
		if err == nil {
			t.Fatalf("%s: CreateKeyed succeeded", c.name)
		}
		if c.field != "" {
			if e := wantCode(t, err, apferr.InvalidParams); dataField(e, "field") != c.field {
				t.Fatalf("%s: error data %v, want field %s", c.name, e.Data, c.field)
			}
		}
		wantMissing(t, s, ids(ts)...)
	}
	long := strings.Repeat("k", store.MaxKeyLen)
	if err := s.CreateKeyed(ctx(t), rec("", long, ts, 0, time.Hour), store.Tasks(ts)); err != nil {
		t.Fatalf("key of %d bytes: %v", store.MaxKeyLen, err)
	}
}
