package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// KVSpace names one plugin's key-value namespace (docs/kv.md, docs/decisions.md §17):
// whose it is (Scope, the user of the task the plugin runs for; "" without one) and
// which plugin (its registry id, not its content hash, so a new version of the plugin
// keeps its entries). Entries of two spaces never meet.
type KVSpace struct {
	Scope  string
	Plugin string
}

func (sp KVSpace) String() string {
	if sp.Scope == "" {
		return "plugin " + sp.Plugin
	}
	return fmt.Sprintf("plugin %s (user %s)", sp.Plugin, sp.Scope)
}

// KVEntry is one stored key and value. Value is opaque to the store (the sandbox keeps
// JSON documents in it).
type KVEntry struct {
	Key   string
	Value []byte
	// ExpiresAt is when the entry stops existing; zero means never. From then on it is
	// invisible to every read, and it is deleted by the next PurgeKV (or by a set that
	// needs its room).
	ExpiresAt time.Time
}

// Size is what the entry costs against a space's byte quota: its key and value bytes.
func (e KVEntry) Size() int64 { return int64(len(e.Key) + len(e.Value)) }

// Live reports whether the entry exists at now.
func (e KVEntry) Live(now time.Time) bool { return e.ExpiresAt.IsZero() || e.ExpiresAt.After(now) }

// KVQuota bounds one space. Zero fields are refused by KVSet (a space with no quota is
// not a space one may write to).
type KVQuota struct {
	// MaxBytes bounds the sum of Size over the space's entries.
	MaxBytes int64
	// MaxKeys bounds how many entries the space holds.
	MaxKeys int64
}

// KVUsage is what a space holds: every stored entry, those expired but not yet purged
// included.
type KVUsage struct {
	Bytes int64
	Keys  int64
}

// KVSetRequest is one KVSet.
type KVSetRequest struct {
	Space KVSpace
	Entry KVEntry
	Quota KVQuota
	// IfAbsent stores the entry only when the key has no live entry (an atomic "claim"):
	// KVSet then reports stored false and writes nothing.
	IfAbsent bool
	// Now is the time the set happens at: it decides which entries are live.
	Now time.Time
}

// Hard bounds of every backend, whatever an operator's quota says.
const (
	// MaxKVKeyLen bounds a key, in bytes.
	MaxKVKeyLen = 512
	// MaxKVValueBytes bounds a value, in bytes (Badger keeps a value in memory up to
	// 1 MiB; the margin leaves room for the stored header).
	MaxKVValueBytes = 1<<20 - 1024
	// MaxKVList bounds how many keys one KVList returns.
	MaxKVList = 1000
)

// KV is durable per-plugin key-value storage (docs/kv.md). Every backend implements it
// (checked by storetest.RunKV).
//
// Guarantees:
//   - An entry whose ExpiresAt is not after a call's now is invisible to that call:
//     KVGet does not find it, KVList does not list it, KVDelete reports it absent and
//     KVSet with IfAbsent replaces it.
//   - Quotas are exact under concurrency: a KVSet checks and updates the space's usage
//     in the transaction that writes the entry, serialized with every other write of
//     the space, so two concurrent sets never both squeeze under a limit. A set that
//     would exceed a limit first deletes the space's expired entries (in the same
//     transaction) and, still over, writes nothing and fails with a *KVQuotaError.
//   - Times are kept at microsecond precision in UTC.
type KV interface {
	// KVGet returns the live entry of key in sp; ok is false when there is none.
	KVGet(ctx context.Context, sp KVSpace, key string, now time.Time) (e KVEntry, ok bool, err error)
	// KVSet stores req.Entry (replacing the key's entry) unless req.IfAbsent and the key
	// has a live entry; stored says whether it wrote. Errors: *KVQuotaError, and the
	// errors of CheckKVSet.
	KVSet(ctx context.Context, req KVSetRequest) (stored bool, err error)
	// KVDelete deletes key's entry in sp and reports whether it was live.
	KVDelete(ctx context.Context, sp KVSpace, key string, now time.Time) (deleted bool, err error)
	// KVList returns, in byte order, up to limit (1..MaxKVList) keys of live entries of
	// sp that start with prefix and come after after ("" for the first page); more says
	// whether further keys match.
	KVList(ctx context.Context, sp KVSpace, prefix, after string, limit int, now time.Time) (keys []string, more bool, err error)
	// KVUsage returns what sp holds (expired entries not yet purged included).
	KVUsage(ctx context.Context, sp KVSpace) (KVUsage, error)
	// PurgeKV deletes every entry expired at now, in every space, and returns how many.
	PurgeKV(ctx context.Context, now time.Time) (int, error)
	// KVSpaces returns every space that holds entries (expired ones not yet purged
	// included) with its usage, ordered by plugin, then scope.
	KVSpaces(ctx context.Context) ([]KVSpaceUsage, error)
	// KVDropSpace deletes every entry of sp, expired or not, and returns what it held.
	// A drop of a space with no entries holds nothing and is not an error.
	KVDropSpace(ctx context.Context, sp KVSpace) (KVUsage, error)
}

// KVSpaceUsage is one space of KVSpaces and what it holds. Its JSON form, that of the
// API's /kv/spaces routes (docs/api.md), is flat: {"plugin", "user", "keys", "bytes"}.
type KVSpaceUsage struct {
	Space KVSpace
	Usage KVUsage
}

// kvSpaceJSON is the JSON form of KVSpaceUsage.
type kvSpaceJSON struct {
	Plugin string `json:"plugin"`
	User   string `json:"user"`
	Keys   int64  `json:"keys"`
	Bytes  int64  `json:"bytes"`
}

// MarshalJSON implements json.Marshaler.
func (su KVSpaceUsage) MarshalJSON() ([]byte, error) {
	return json.Marshal(kvSpaceJSON{Plugin: su.Space.Plugin, User: su.Space.Scope, Keys: su.Usage.Keys, Bytes: su.Usage.Bytes})
}

// UnmarshalJSON implements json.Unmarshaler.
func (su *KVSpaceUsage) UnmarshalJSON(b []byte) error {
	var j kvSpaceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*su = KVSpaceUsage{Space: KVSpace{Scope: j.User, Plugin: j.Plugin}, Usage: KVUsage{Bytes: j.Bytes, Keys: j.Keys}}
	return nil
}

// KVSpacesOf returns the spaces of plugin among spaces, in their order; all of them when
// plugin is "". It never returns nil.
func KVSpacesOf(spaces []KVSpaceUsage, plugin string) []KVSpaceUsage {
	out := []KVSpaceUsage{}
	for _, su := range spaces {
		if plugin == "" || su.Space.Plugin == plugin {
			out = append(out, su)
		}
	}
	return out
}

// SortKVSpaces orders spaces as KVSpaces returns them: by plugin, then scope.
func SortKVSpaces(spaces []KVSpaceUsage) {
	slices.SortFunc(spaces, func(a, b KVSpaceUsage) int {
		if c := strings.Compare(a.Space.Plugin, b.Space.Plugin); c != 0 {
			return c
		}
		return strings.Compare(a.Space.Scope, b.Space.Scope)
	})
}

// KVQuotaError is the error of a KVSet that would take a space past its quota.
type KVQuotaError struct {
	Space KVSpace
	// Limit is "max_bytes" or "max_keys"; Max its value, Would what the set would make.
	Limit string
	Max   int64
	Would int64
}

func (e *KVQuotaError) Error() string {
	unit := "bytes"
	if e.Limit == "max_keys" {
		unit = "keys"
	}
	return fmt.Sprintf("kv quota of %s exceeded: the set would make %d %s, %s is %d; nothing was written",
		e.Space, e.Would, unit, e.Limit, e.Max)
}

// KVKeyError is the error of a key no backend accepts.
type KVKeyError struct {
	Key    string
	Reason string
}

func (e *KVKeyError) Error() string {
	k := e.Key
	if len(k) > 64 {
		k = k[:64] + "…"
	}
	return fmt.Sprintf("kv key %q %s", k, e.Reason)
}

// CheckKVKey refuses a key that is empty, longer than MaxKVKeyLen bytes, not valid
// UTF-8 or holding a NUL byte.
func CheckKVKey(key string) error {
	switch {
	case key == "":
		return &KVKeyError{Key: key, Reason: "is empty"}
	case len(key) > MaxKVKeyLen:
		return &KVKeyError{Key: key, Reason: fmt.Sprintf("is longer than %d bytes", MaxKVKeyLen)}
	}
	if r := badKey(key); r != "" {
		return &KVKeyError{Key: key, Reason: r}
	}
	return nil
}

// CheckKVSpace refuses a space whose plugin is empty or whose names no backend keeps.
func CheckKVSpace(sp KVSpace) error {
	if strings.TrimSpace(sp.Plugin) == "" {
		return errors.New("kv space without a plugin id")
	}
	if err := CheckKeyString("scope", sp.Scope); err != nil {
		return fmt.Errorf("kv space: %w", err)
	}
	if err := CheckKeyString("plugin", sp.Plugin); err != nil {
		return fmt.Errorf("kv space: %w", err)
	}
	return nil
}

// CheckKVSet checks a set before any backend writes it and returns it as backends store
// it (times in UTC at microsecond precision): space and key as CheckKVSpace and
// CheckKVKey require, a value of at most MaxKVValueBytes, positive quotas, and an expiry,
// if any, after Now.
func CheckKVSet(req KVSetRequest) (KVSetRequest, error) {
	if err := CheckKVSpace(req.Space); err != nil {
		return req, err
	}
	if err := CheckKVKey(req.Entry.Key); err != nil {
		return req, err
	}
	if len(req.Entry.Value) > MaxKVValueBytes {
		return req, fmt.Errorf("kv value of %d bytes for key %q: at most %d bytes", len(req.Entry.Value), req.Entry.Key, MaxKVValueBytes)
	}
	if req.Quota.MaxBytes <= 0 || req.Quota.MaxKeys <= 0 {
		return req, fmt.Errorf("kv set in %s without a quota (max_bytes %d, max_keys %d)", req.Space, req.Quota.MaxBytes, req.Quota.MaxKeys)
	}
	req.Now = req.Now.UTC().Truncate(time.Microsecond)
	if !req.Entry.ExpiresAt.IsZero() {
		req.Entry.ExpiresAt = req.Entry.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !req.Entry.ExpiresAt.After(req.Now) {
			return req, fmt.Errorf("kv set of key %q: expires at %s, not after now (%s)", req.Entry.Key, req.Entry.ExpiresAt, req.Now)
		}
	}
	return req, nil
}

// CheckKVList checks the arguments of a KVList.
func CheckKVList(sp KVSpace, prefix, after string, limit int) error {
	if err := CheckKVSpace(sp); err != nil {
		return err
	}
	if limit < 1 || limit > MaxKVList {
		return fmt.Errorf("kv list limit %d: want 1..%d", limit, MaxKVList)
	}
	for _, s := range []string{prefix, after} {
		if len(s) > MaxKVKeyLen {
			return &KVKeyError{Key: s, Reason: fmt.Sprintf("is longer than %d bytes", MaxKVKeyLen)}
		}
		if r := badKey(s); r != "" {
			return &KVKeyError{Key: s, Reason: r}
		}
	}
	return nil
}

// KVAdmit decides a set against a space's usage: given what the space holds (u), the
// size of the key's stored entry (oldSize, 0 and oldExists false when none), it returns
// the usage after the set, or a *KVQuotaError. Backends call it inside the transaction
// that writes.
func KVAdmit(req KVSetRequest, u KVUsage, oldExists bool, oldSize int64) (KVUsage, error) {
	next := KVUsage{Bytes: u.Bytes - oldSize + req.Entry.Size(), Keys: u.Keys}
	if !oldExists {
		next.Keys++
	}
	switch {
	case next.Keys > req.Quota.MaxKeys:
		return u, &KVQuotaError{Space: req.Space, Limit: "max_keys", Max: req.Quota.MaxKeys, Would: next.Keys}
	case next.Bytes > req.Quota.MaxBytes:
		return u, &KVQuotaError{Space: req.Space, Limit: "max_bytes", Max: req.Quota.MaxBytes, Would: next.Bytes}
	}
	return next, nil
}
