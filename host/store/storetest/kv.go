package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
)

// KVStore is a store that keeps plugins' key-value entries.
type KVStore interface {
	store.KV
	Close() error
}

// RunKV runs the conformance suite of store.KV. newStore must return a new, empty store
// for each call; RunKV closes it when the subtest ends. Time is injected: every call
// passes its now, so expiry is tested without waiting.
func RunKV[S KVStore](t *testing.T, newStore func(t *testing.T) S) {
	runSuite(t, func(t *testing.T) KVStore { return newStore(t) }, kvCases)
}

var kvCases = []storeCase[KVStore]{
	{"RoundTrip", testKVRoundTrip},
	{"Expiry", testKVExpiry},
	{"List", testKVList},
	{"SpacesAreSeparate", testKVIsolation},
	{"Quota", testKVQuota},
	{"QuotaReclaimsExpired", testKVQuotaReclaims},
	{"IfAbsent", testKVIfAbsent},
	{"ConcurrentSetsRespectQuota", testKVConcurrentQuota},
	{"ConcurrentClaims", testKVConcurrentClaims},
	{"Checks", testKVChecks},
	{"Purge", testKVPurge},
	{"SpacesAndDrop", testKVSpacesAndDrop},
	{"DropManyEntries", testKVDropMany},
}

var (
	kvA     = store.KVSpace{Plugin: "cache"}
	kvQuota = store.KVQuota{MaxBytes: 1 << 20, MaxKeys: 1000}
)

func kvSet(t *testing.T, s KVStore, sp store.KVSpace, key, value string, ttl time.Duration, now time.Time) {
	t.Helper()
	e := store.KVEntry{Key: key, Value: []byte(value)}
	if ttl > 0 {
		e.ExpiresAt = now.Add(ttl)
	}
	stored, err := s.KVSet(ctx(t), store.KVSetRequest{Space: sp, Entry: e, Quota: kvQuota, Now: now})
	if err != nil || !stored {
		t.Fatalf("KVSet(%s, %q) = %v, %v", sp, key, stored, err)
	}
}

// kvWant checks what KVGet finds for key at now: want "" means absent.
func kvWant(t *testing.T, s KVStore, sp store.KVSpace, key string, now time.Time, want string) store.KVEntry {
	t.Helper()
	e, ok, err := s.KVGet(ctx(t), sp, key, now)
	if err != nil {
		t.Fatalf("KVGet(%s, %q): %v", sp, key, err)
	}
	switch {
	case want == "" && ok:
		t.Fatalf("KVGet(%s, %q) found %q, want nothing", sp, key, e.Value)
	case want != "" && !ok:
		t.Fatalf("KVGet(%s, %q) found nothing, want %q", sp, key, want)
	case ok && (string(e.Value) != want || e.Key != key):
		t.Fatalf("KVGet(%s, %q) = %q %q, want %q", sp, key, e.Key, e.Value, want)
	}
	return e
}

func kvUsage(t *testing.T, s KVStore, sp store.KVSpace, want store.KVUsage) {
	t.Helper()
	u, err := s.KVUsage(ctx(t), sp)
	if err != nil {
		t.Fatalf("KVUsage(%s): %v", sp, err)
	}
	if u != want {
		t.Fatalf("KVUsage(%s) = %+v, want %+v", sp, u, want)
	}
}

func kvList(t *testing.T, s KVStore, sp store.KVSpace, prefix, after string, limit int, now time.Time) ([]string, bool) {
	t.Helper()
	keys, more, err := s.KVList(ctx(t), sp, prefix, after, limit, now)
	if err != nil {
		t.Fatalf("KVList(%s, %q, %q, %d): %v", sp, prefix, after, limit, err)
	}
	return keys, more
}

func testKVRoundTrip(t *testing.T, s KVStore) {
	kvWant(t, s, kvA, "k", base, "")
	kvSet(t, s, kvA, "k", `{"a":1}`, 0, base)
	e := kvWant(t, s, kvA, "k", base.Add(24*365*time.Hour), `{"a":1}`)
	if !e.ExpiresAt.IsZero() {
		t.Fatalf("entry without TTL expires at %v", e.ExpiresAt)
	}
	kvSet(t, s, kvA, "k", `"replaced"`, time.Hour+1500*time.Nanosecond, base)
	e = kvWant(t, s, kvA, "k", base, `"replaced"`)
	want := base.Add(time.Hour + time.Microsecond)
	if !e.ExpiresAt.Equal(want) || e.ExpiresAt.Location() != time.UTC {
		t.Fatalf("ExpiresAt = %v, want %v in UTC (microseconds)", e.ExpiresAt, want)
	}
	kvUsage(t, s, kvA, store.KVUsage{Bytes: int64(len("k") + len(`"replaced"`)), Keys: 1})
	deleted, err := s.KVDelete(ctx(t), kvA, "k", base)
	if err != nil || !deleted {
		t.Fatalf("KVDelete = %v, %v; want deleted", deleted, err)
	}
	kvWant(t, s, kvA, "k", base, "")
	kvUsage(t, s, kvA, store.KVUsage{})
	if deleted, err := s.KVDelete(ctx(t), kvA, "k", base); err != nil || deleted {
		t.Fatalf("second KVDelete = %v, %v; want not deleted", deleted, err)
	}
	// Binary values are kept as they are.
	bin := string([]byte{0, 1, 0xff, 0})
	kvSet(t, s, kvA, "bin", bin, 0, base)
	kvWant(t, s, kvA, "bin", base, bin)
}

func testKVExpiry(t *testing.T, s KVStore) {
	kvSet(t, s, kvA, "short", "1", time.Minute, base)
	kvSet(t, s, kvA, "long", "2", time.Hour, base)
	kvWant(t, s, kvA, "short", base.Add(time.Minute-time.Microsecond), "1")
	// At its expiry exactly the entry is gone for every read.
	at := base.Add(time.Minute)
	kvWant(t, s, kvA, "short", at, "")
	kvWant(t, s, kvA, "long", at, "2")
	if keys, _ := kvList(t, s, kvA, "", "", 10, at); !slices.Equal(keys, []string{"long"}) {
		t.Fatalf("KVList after expiry = %q, want [long]", keys)
	}
	if deleted, err := s.KVDelete(ctx(t), kvA, "short", at); err != nil || deleted {
		t.Fatalf("KVDelete of an expired entry = %v, %v; want not deleted", deleted, err)
	}
	// Seen from before the expiry, the entry of a later call is still there: time is
	// the caller's.
	kvSet(t, s, kvA, "short2", "3", time.Minute, base)
	kvWant(t, s, kvA, "short2", base, "3")
}

func testKVList(t *testing.T, s KVStore) {
	for _, k := range []string{"b/2", "a/1", "b/1", "b/3", "c", "b/10", "bz"} {
		kvSet(t, s, kvA, k, "v", 0, base)
	}
	keys, more := kvList(t, s, kvA, "", "", 100, base)
	if want := []string{"a/1", "b/1", "b/10", "b/2", "b/3", "bz", "c"}; !slices.Equal(keys, want) || more {
		t.Fatalf("KVList all = %q more %v, want %q", keys, more, want)
	}
	keys, more = kvList(t, s, kvA, "b/", "", 2, base)
	if !slices.Equal(keys, []string{"b/1", "b/10"}) || !more {
		t.Fatalf("KVList b/ page 1 = %q more %v", keys, more)
	}
	keys, more = kvList(t, s, kvA, "b/", "b/10", 2, base)
	if !slices.Equal(keys, []string{"b/2", "b/3"}) || more {
		t.Fatalf("KVList b/ page 2 = %q more %v", keys, more)
	}
	keys, more = kvList(t, s, kvA, "b/", "b/3", 2, base)
	if len(keys) != 0 || more {
		t.Fatalf("KVList b/ past the end = %q more %v", keys, more)
	}
	keys, _ = kvList(t, s, kvA, "nothing", "", 5, base)
	if len(keys) != 0 {
		t.Fatalf("KVList of an unused prefix = %q", keys)
	}
	// An expired entry is not counted towards more.
	kvSet(t, s, kvA, "d/1", "v", time.Second, base)
	keys, more = kvList(t, s, kvA, "c", "", 1, base.Add(time.Second))
	if !slices.Equal(keys, []string{"c"}) || more {
		t.Fatalf("KVList c = %q more %v", keys, more)
	}
	keys, more = kvList(t, s, kvA, "", "c", 1, base.Add(time.Second))
	if len(keys) != 0 || more {
		t.Fatalf("KVList after c with d/1 expired = %q more %v", keys, more)
	}
}

func testKVIsolation(t *testing.T, s KVStore) {
	other := store.KVSpace{Plugin: "other"}
	alice := store.KVSpace{Scope: "alice", Plugin: "cache"}
	kvSet(t, s, kvA, "same", "mine", 0, base)
	kvSet(t, s, other, "same", "theirs", 0, base)
	kvSet(t, s, alice, "same", "alice's", 0, base)
	kvWant(t, s, kvA, "same", base, "mine")
	kvWant(t, s, other, "same", base, "theirs")
	kvWant(t, s, alice, "same", base, "alice's")
	kvSet(t, s, other, "only-other", "x", 0, base)
	kvWant(t, s, kvA, "only-other", base, "")
	if keys, _ := kvList(t, s, kvA, "", "", 10, base); !slices.Equal(keys, []string{"same"}) {
		t.Fatalf("KVList of one space = %q, want [same]", keys)
	}
	// A plugin id that is another's prefix is still another space.
	pre := store.KVSpace{Plugin: "cach"}
	kvWant(t, s, pre, "same", base, "")
	if keys, _ := kvList(t, s, pre, "", "", 10, base); len(keys) != 0 {
		t.Fatalf("KVList of plugin cach = %q", keys)
	}
	if _, err := s.KVDelete(ctx(t), other, "same", base); err != nil {
		t.Fatal(err)
	}
	kvWant(t, s, kvA, "same", base, "mine")
	kvUsage(t, s, kvA, store.KVUsage{Bytes: int64(len("same") + len("mine")), Keys: 1})
	kvUsage(t, s, other, store.KVUsage{Bytes: int64(len("only-other") + 1), Keys: 1})
}

func wantQuota(t *testing.T, err error, limit string) {
	t.Helper()
	var q *store.KVQuotaError
	if !errors.As(err, &q) || q.Limit != limit {
		t.Fatalf("error = %v, want a *store.KVQuotaError on %s", err, limit)
	}
}

func testKVQuota(t *testing.T, s KVStore) {
	q := store.KVQuota{MaxBytes: 19, MaxKeys: 2}
	set := func(key, value string) error {
		_, err := s.KVSet(ctx(t), store.KVSetRequest{Space: kvA, Entry: store.KVEntry{Key: key, Value: []byte(value)}, Quota: q, Now: base})
		return err
	}
	if err := set("a", "123456789"); err != nil { // 10 bytes
		t.Fatal(err)
	}
	if err := set("b", "12345678"); err != nil { // 9 bytes: 19
		t.Fatal(err)
	}
	wantQuota(t, set("c", ""), "max_keys")
	wantQuota(t, set("b", "123456789"), "max_bytes") // 19 → 20
	kvWant(t, s, kvA, "b", base, "12345678")
	kvWant(t, s, kvA, "c", base, "")
	kvUsage(t, s, kvA, store.KVUsage{Bytes: 19, Keys: 2})
	if err := set("b", "1"); err != nil { // replacing shrinks
		t.Fatal(err)
	}
	if err := set("a", "1234567890123456"); err != nil { // 17 + 2 = 19
		t.Fatal(err)
	}
	kvUsage(t, s, kvA, store.KVUsage{Bytes: 19, Keys: 2})
	if _, err := s.KVDelete(ctx(t), kvA, "b", base); err != nil {
		t.Fatal(err)
	}
	if err := set("c", ""); err != nil {
		t.Fatal(err)
	}
	kvUsage(t, s, kvA, store.KVUsage{Bytes: 18, Keys: 2})
}

func testKVQuotaReclaims(t *testing.T, s KVStore) {
	q := store.KVQuota{MaxBytes: 100, MaxKeys: 2}
	for _, k := range []string{"x", "y"} {
		_, err := s.KVSet(ctx(t), store.KVSetRequest{Space: kvA, Quota: q, Now: base,
			Entry: store.KVEntry{Key: k, Value: []byte("v"), ExpiresAt: base.Add(time.Minute)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	later := base.Add(time.Minute)
	kvUsage(t, s, kvA, store.KVUsage{Bytes: 4, Keys: 2}) // expired, not yet purged
	if _, err := s.KVSet(ctx(t), store.KVSetRequest{Space: kvA, Quota: q, Now: later,
		Entry: store.KVEntry{Key: "z", Value: []byte("v")}}); err != nil {
		t.Fatalf("a set over the quota of expired entries only: %v", err)
	}
	kvUsage(t, s, kvA, store.KVUsage{Bytes: 2, Keys: 1})
	kvWant(t, s, kvA, "x", base, "") // deleted, not merely hidden
}

func testKVIfAbsent(t *testing.T, s KVStore) {
	claim := func(value string, ttl time.Duration, now time.Time) bool {
		t.Helper()
		e := store.KVEntry{Key: "claim", Value: []byte(value)}
		if ttl > 0 {
			e.ExpiresAt = now.Add(ttl)
		}
		stored, err := s.KVSet(ctx(t), store.KVSetRequest{Space: kvA, Entry: e, Quota: kvQuota, IfAbsent: true, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return stored
	}
	if !claim("first", time.Minute, base) {
		t.Fatal("the first claim was not stored")
	}
	if claim("second", 0, base.Add(time.Second)) {
		t.Fatal("a claim of a live key was stored")
	}
	kvWant(t, s, kvA, "claim", base, "first")
	if !claim("third", 0, base.Add(time.Minute)) {
		t.Fatal("a claim of an expired key was not stored")
	}
	kvWant(t, s, kvA, "claim", base.Add(time.Hour), "third")
	kvUsage(t, s, kvA, store.KVUsage{Bytes: int64(len("claim") + len("third")), Keys: 1})
}

func testKVConcurrentQuota(t *testing.T, s KVStore) {
	const writers, maxKeys = 24, 7
	q := store.KVQuota{MaxBytes: 1 << 20, MaxKeys: maxKeys}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.KVSet(context.Background(), store.KVSetRequest{Space: kvA, Quota: q, Now: base,
				Entry: store.KVEntry{Key: fmt.Sprintf("k%02d", i), Value: []byte("0123456789")}})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantQuota(t, err, "max_keys")
	}
	if ok != maxKeys {
		t.Fatalf("%d concurrent sets succeeded under max_keys %d", ok, maxKeys)
	}
	keys, _ := kvList(t, s, kvA, "", "", 100, base)
	if len(keys) != maxKeys {
		t.Fatalf("%d keys stored, want %d", len(keys), maxKeys)
	}
	kvUsage(t, s, kvA, store.KVUsage{Bytes: maxKeys * 13, Keys: maxKeys})

	// Bytes: two concurrent replacements that each fit alone but not together.
	sp := store.KVSpace{Plugin: "bytes"}
	qb := store.KVQuota{MaxBytes: 30, MaxKeys: 10}
	for _, k := range []string{"a", "b"} {
		if _, err := s.KVSet(ctx(t), store.KVSetRequest{Space: sp, Quota: qb, Now: base, Entry: store.KVEntry{Key: k, Value: []byte("1")}}); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 20 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, k := range []string{"a", "b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.KVSet(context.Background(), store.KVSetRequest{Space: sp, Quota: qb, Now: base,
					Entry: store.KVEntry{Key: k, Value: []byte(strings.Repeat("x", 20))}}) // 21 bytes each
			}()
		}
		wg.Wait()
		if errs[0] == nil && errs[1] == nil {
			t.Fatalf("round %d: both replacements squeezed under max_bytes 30", round)
		}
		u, err := s.KVUsage(ctx(t), sp)
		if err != nil || u.Bytes > 30 {
			t.Fatalf("round %d: usage %+v, %v", round, u, err)
		}
		for _, k := range []string{"a", "b"} { // back to small values
			if _, err := s.KVSet(ctx(t), store.KVSetRequest{Space: sp, Quota: qb, Now: base, Entry: store.KVEntry{Key: k, Value: []byte("1")}}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func testKVConcurrentClaims(t *testing.T, s KVStore) {
	const n = 12
	var wg sync.WaitGroup
	stored := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stored[i], errs[i] = s.KVSet(context.Background(), store.KVSetRequest{Space: kvA, Quota: kvQuota, Now: base, IfAbsent: true,
				Entry: store.KVEntry{Key: "once", Value: []byte(fmt.Sprint(i))}})
		}()
	}
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("claim %d: %v", i, errs[i])
		}
		if stored[i] {
			if winner >= 0 {
				t.Fatalf("claims %d and %d were both stored", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no claim was stored")
	}
	kvWant(t, s, kvA, "once", base, fmt.Sprint(winner))
}

func testKVChecks(t *testing.T, s KVStore) {
	set := func(sp store.KVSpace, e store.KVEntry, q store.KVQuota) error {
		_, err := s.KVSet(ctx(t), store.KVSetRequest{Space: sp, Entry: e, Quota: q, Now: base})
		return err
	}
	var keyErr *store.KVKeyError
	for _, k := range []string{"", strings.Repeat("k", store.MaxKVKeyLen+1), "a\x00b", "\xff"} {
		if err := set(kvA, store.KVEntry{Key: k}, kvQuota); !errors.As(err, &keyErr) {
			t.Errorf("KVSet of key %q: %v, want a *store.KVKeyError", k, err)
		}
	}
	if err := set(kvA, store.KVEntry{Key: strings.Repeat("k", store.MaxKVKeyLen), Value: []byte("v")}, kvQuota); err != nil {
		t.Errorf("KVSet of a key of the largest length: %v", err)
	}
	big := store.KVQuota{MaxBytes: 4 << 20, MaxKeys: 10}
	if err := set(kvA, store.KVEntry{Key: "big", Value: make([]byte, store.MaxKVValueBytes+1)}, big); err == nil {
		t.Error("KVSet of a value over MaxKVValueBytes succeeded")
	}
	if err := set(kvA, store.KVEntry{Key: "max", Value: make([]byte, store.MaxKVValueBytes)}, big); err != nil {
		t.Errorf("KVSet of a value of MaxKVValueBytes: %v", err)
	}
	if err := set(kvA, store.KVEntry{Key: "k", Value: []byte("v")}, store.KVQuota{}); err == nil {
		t.Error("KVSet without a quota succeeded")
	}
	if err := set(kvA, store.KVEntry{Key: "k", Value: []byte("v"), ExpiresAt: base}, kvQuota); err == nil {
		t.Error("KVSet of an entry expired already succeeded")
	}
	if err := set(store.KVSpace{}, store.KVEntry{Key: "k"}, kvQuota); err == nil {
		t.Error("KVSet in a space without a plugin succeeded")
	}
	if _, _, err := s.KVList(ctx(t), kvA, "", "", 0, base); err == nil {
		t.Error("KVList with limit 0 succeeded")
	}
	if _, _, err := s.KVList(ctx(t), kvA, "", "", store.MaxKVList+1, base); err == nil {
		t.Error("KVList over MaxKVList succeeded")
	}
	if _, _, err := s.KVGet(ctx(t), kvA, "a\x00b", base); !errors.As(err, &keyErr) {
		t.Errorf("KVGet of a key with NUL: %v, want a *store.KVKeyError", err)
	}
	kvWant(t, s, kvA, "k", base, "")
}

func testKVPurge(t *testing.T, s KVStore) {
	other := store.KVSpace{Scope: "bob", Plugin: "p"}
	kvSet(t, s, kvA, "e1", "v", time.Minute, base)
	kvSet(t, s, kvA, "e2", "v", 2*time.Minute, base)
	kvSet(t, s, kvA, "keep", "v", 0, base)
	kvSet(t, s, other, "e3", "vv", time.Minute, base)
	n, err := s.PurgeKV(ctx(t), base.Add(time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("PurgeKV = %d, %v; want 2", n, err)
	}
	kvUsage(t, s, kvA, store.KVUsage{Bytes: 3 + 5, Keys: 2})
	kvUsage(t, s, other, store.KVUsage{})
	kvWant(t, s, kvA, "e2", base, "v")
	if n, err := s.PurgeKV(ctx(t), base.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("second PurgeKV = %d, %v; want 0", n, err)
	}
}

func kvSpaces(t *testing.T, s KVStore) []store.KVSpaceUsage {
	t.Helper()
	spaces, err := s.KVSpaces(ctx(t))
	if err != nil {
		t.Fatalf("KVSpaces: %v", err)
	}
	return spaces
}

func kvDrop(t *testing.T, s KVStore, sp store.KVSpace, want store.KVUsage) {
	t.Helper()
	u, err := s.KVDropSpace(ctx(t), sp)
	if err != nil || u != want {
		t.Fatalf("KVDropSpace(%s) = %+v, %v; want %+v", sp, u, err, want)
	}
}

func testKVSpacesAndDrop(t *testing.T, s KVStore) {
	if spaces := kvSpaces(t, s); len(spaces) != 0 {
		t.Fatalf("KVSpaces of an empty store = %+v", spaces)
	}
	alice := store.KVSpace{Scope: "alice", Plugin: "cache"}
	pre := store.KVSpace{Plugin: "cach"}
	other := store.KVSpace{Plugin: "other"}
	kvSet(t, s, kvA, "k", "v", 0, base)
	kvSet(t, s, kvA, "old", "vv", time.Minute, base) // expired below, not purged
	kvSet(t, s, alice, "k", "alice's", 0, base)
	kvSet(t, s, pre, "k", "v", 0, base)
	kvSet(t, s, other, "gone", "x", 0, base)
	if _, err := s.KVDelete(ctx(t), other, "gone", base); err != nil {
		t.Fatal(err)
	}
	want := []store.KVSpaceUsage{
		{Space: pre, Usage: store.KVUsage{Bytes: 2, Keys: 1}},
		{Space: kvA, Usage: store.KVUsage{Bytes: 2 + 5, Keys: 2}},
		{Space: alice, Usage: store.KVUsage{Bytes: 1 + 7, Keys: 1}},
	}
	if spaces := kvSpaces(t, s); !slices.Equal(spaces, want) {
		t.Fatalf("KVSpaces = %+v, want %+v (by plugin, then scope; emptied spaces left out)", spaces, want)
	}

	later := base.Add(time.Hour)
	kvDrop(t, s, kvA, store.KVUsage{Bytes: 7, Keys: 2}) // the expired entry counts
	kvWant(t, s, kvA, "k", later, "")
	kvUsage(t, s, kvA, store.KVUsage{})
	if keys, _ := kvList(t, s, kvA, "", "", 10, base); len(keys) != 0 {
		t.Fatalf("KVList of a dropped space = %q", keys)
	}
	kvWant(t, s, alice, "k", later, "alice's")
	kvWant(t, s, pre, "k", later, "v")
	if spaces := kvSpaces(t, s); !slices.Equal(spaces, []store.KVSpaceUsage{want[0], want[2]}) {
		t.Fatalf("KVSpaces after a drop = %+v", spaces)
	}
	kvDrop(t, s, kvA, store.KVUsage{})
	kvDrop(t, s, store.KVSpace{Plugin: "never"}, store.KVUsage{})

	// A dropped space starts again empty: its quota counts from nothing.
	tight := store.KVQuota{MaxBytes: 1 << 20, MaxKeys: 1}
	if stored, err := s.KVSet(ctx(t), store.KVSetRequest{Space: kvA, Entry: store.KVEntry{Key: "new", Value: []byte("v")}, Quota: tight, Now: later}); err != nil || !stored {
		t.Fatalf("KVSet after the drop = %v, %v", stored, err)
	}
	kvUsage(t, s, kvA, store.KVUsage{Bytes: 4, Keys: 1})
}

// testKVDropMany drops a space of more entries than one commit of some backends deletes.
func testKVDropMany(t *testing.T, s KVStore) {
	const n = 1100
	quota := store.KVQuota{MaxBytes: 1 << 20, MaxKeys: 2 * n}
	var bytes int64
	for i := range n {
		e := store.KVEntry{Key: fmt.Sprintf("k%04d", i), Value: []byte("v")}
		if _, err := s.KVSet(ctx(t), store.KVSetRequest{Space: kvA, Entry: e, Quota: quota, Now: base}); err != nil {
			t.Fatal(err)
		}
		bytes += e.Size()
	}
	kvSet(t, s, store.KVSpace{Plugin: "cache2"}, "k0000", "stays", 0, base)
	kvDrop(t, s, kvA, store.KVUsage{Bytes: bytes, Keys: n})
	kvUsage(t, s, kvA, store.KVUsage{})
	if keys, _ := kvList(t, s, kvA, "", "", 10, base); len(keys) != 0 {
		t.Fatalf("KVList after dropping %d entries = %q", n, keys)
	}
	kvWant(t, s, store.KVSpace{Plugin: "cache2"}, "k0000", base, "stays")
}
