package badgerstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.KV = (*Store)(nil)

// Key-value entries (store.KV) are keys V <scope> <plugin> <key> whose value is the
// expiry in Unix microseconds (8 bytes big-endian, 0 for none) followed by the value;
// each space's usage is W <scope> <plugin>: bytes and keys, 8 bytes each. Every write
// of an entry updates its space's usage in the same commit, and the committer is the
// only writer, so the usage is always exactly what the space holds. Badger's own TTL is
// not used: it would drop entries without the usage knowing.

func kvSpacePrefix(sp store.KVSpace) []byte {
	return appendString(appendString([]byte{prefixKV}, sp.Scope), sp.Plugin)
}

func kvKey(sp store.KVSpace, key string) []byte { return appendString(kvSpacePrefix(sp), key) }

func kvUsageKey(sp store.KVSpace) []byte {
	return appendString(appendString([]byte{prefixKVUsage}, sp.Scope), sp.Plugin)
}

func encodeKV(e store.KVEntry) []byte {
	var exp int64
	if !e.ExpiresAt.IsZero() {
		exp = e.ExpiresAt.UnixMicro()
	}
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(e.Value)), uint64(exp)), e.Value...)
}

func decodeKV(key string, v []byte) (store.KVEntry, error) {
	if len(v) < 8 {
		return store.KVEntry{}, fmt.Errorf("kv entry %q: stored value of %d bytes, want at least 8", key, len(v))
	}
	e := store.KVEntry{Key: key, Value: bytes.Clone(v[8:])}
	if exp := int64(binary.BigEndian.Uint64(v)); exp != 0 {
		e.ExpiresAt = time.UnixMicro(exp).UTC()
	}
	return e, nil
}

// readKV reads key's entry in txn, expired or not; ok is false when there is none.
func readKV(txn *badger.Txn, sp store.KVSpace, key string) (e store.KVEntry, ok bool, err error) {
	item, err := txn.Get(kvKey(sp, key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return store.KVEntry{}, false, nil
	}
	if err != nil {
		return store.KVEntry{}, false, fmt.Errorf("read kv entry %q of %s: %w", key, sp, err)
	}
	err = item.Value(func(v []byte) error {
		e, err = decodeKV(key, v)
		return err
	})
	return e, err == nil, err
}

func readKVUsage(txn *badger.Txn, sp store.KVSpace) (store.KVUsage, error) {
	item, err := txn.Get(kvUsageKey(sp))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return store.KVUsage{}, nil
	}
	if err != nil {
		return store.KVUsage{}, fmt.Errorf("read kv usage of %s: %w", sp, err)
	}
	var u store.KVUsage
	err = item.Value(func(v []byte) (err error) {
		u, err = decodeKVUsage(sp, v)
		return err
	})
	return u, err
}

// decodeKVUsage decodes the stored usage of sp.
func decodeKVUsage(sp store.KVSpace, v []byte) (store.KVUsage, error) {
	if len(v) != 16 {
		return store.KVUsage{}, fmt.Errorf("kv usage of %s: stored value of %d bytes, want 16", sp, len(v))
	}
	return store.KVUsage{Bytes: int64(binary.BigEndian.Uint64(v)), Keys: int64(binary.BigEndian.Uint64(v[8:]))}, nil
}

// usageWrite is the write that records u as sp's usage (a delete when it is empty).
func usageWrite(sp store.KVSpace, u store.KVUsage) write {
	if u.Keys == 0 {
		return write{key: kvUsageKey(sp), del: true}
	}
	v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(u.Bytes)), uint64(u.Keys))
	return write{key: kvUsageKey(sp), value: v}
}

// KVGet implements store.KV.
func (s *Store) KVGet(ctx context.Context, sp store.KVSpace, key string, now time.Time) (store.KVEntry, bool, error) {
	if err := store.CheckKVKey(key); err != nil {
		return store.KVEntry{}, false, err
	}
	if err := ctx.Err(); err != nil {
		return store.KVEntry{}, false, err
	}
	var e store.KVEntry
	var ok bool
	err := s.view(func(txn *badger.Txn) error {
		var err error
		e, ok, err = readKV(txn, sp, key)
		return err
	})
	if err != nil || !ok || !e.Live(now) {
		return store.KVEntry{}, false, err
	}
	return e, true, nil
}

// KVSet implements store.KV: the committer checks the quota against the usage in the
// commit that writes the entry.
func (s *Store) KVSet(ctx context.Context, req store.KVSetRequest) (bool, error) {
	req, err := store.CheckKVSet(req)
	if err != nil {
		return false, err
	}
	value := encodeKV(req.Entry)
	stored := false
	err = s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
		stored = false
		old, had, err := readKV(txn, req.Space, req.Entry.Key)
		if err != nil {
			return nil, err
		}
		if req.IfAbsent && had && old.Live(req.Now) {
			return nil, nil
		}
		u, err := readKVUsage(txn, req.Space)
		if err != nil {
			return nil, err
		}
		var ws []write
		next, err := store.KVAdmit(req, u, had, old.Size())
		if err != nil {
			// Over a limit: the space's expired entries make room, in this commit.
			var freed store.KVUsage
			if ws, freed, err = expiredWrites(txn, req.Space, req.Now); err != nil {
				return nil, err
			}
			u = store.KVUsage{Bytes: u.Bytes - freed.Bytes, Keys: u.Keys - freed.Keys}
			if had && !old.Live(req.Now) {
				had, old = false, store.KVEntry{}
			}
			if next, err = store.KVAdmit(req, u, had, old.Size()); err != nil {
				return nil, err
			}
		}
		stored = true
		return append(ws, write{key: kvKey(req.Space, req.Entry.Key), value: value}, usageWrite(req.Space, next)), nil
	})
	return stored, err
}

// expiredWrites returns the deletes of sp's entries expired at now and what they free.
func expiredWrites(txn *badger.Txn, sp store.KVSpace, now time.Time) ([]write, store.KVUsage, error) {
	prefix := kvSpacePrefix(sp)
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	var ws []write
	var freed store.KVUsage
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		key, _, err := readString(item.Key()[len(prefix):])
		if err != nil {
			return nil, freed, err
		}
		var e store.KVEntry
		if err := item.Value(func(v []byte) error { e, err = decodeKV(key, v); return err }); err != nil {
			return nil, freed, err
		}
		if !e.Live(now) {
			ws = append(ws, write{key: item.KeyCopy(nil), del: true})
			freed.Bytes += e.Size()
			freed.Keys++
		}
	}
	return ws, freed, nil
}

// KVDelete implements store.KV.
func (s *Store) KVDelete(ctx context.Context, sp store.KVSpace, key string, now time.Time) (bool, error) {
	if err := store.CheckKVKey(key); err != nil {
		return false, err
	}
	deleted := false
	err := s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
		deleted = false
		e, ok, err := readKV(txn, sp, key)
		if err != nil || !ok {
			return nil, err
		}
		u, err := readKVUsage(txn, sp)
		if err != nil {
			return nil, err
		}
		deleted = e.Live(now)
		u = store.KVUsage{Bytes: u.Bytes - e.Size(), Keys: u.Keys - 1}
		return []write{{key: kvKey(sp, key), del: true}, usageWrite(sp, u)}, nil
	})
	return deleted, err
}

// KVList implements store.KV.
func (s *Store) KVList(ctx context.Context, sp store.KVSpace, prefix, after string, limit int, now time.Time) ([]string, bool, error) {
	if err := store.CheckKVList(sp, prefix, after, limit); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	space := kvSpacePrefix(sp)
	// Keys hold no NUL byte, so a key prefix's encoding is its bytes.
	match := append(bytes.Clone(space), prefix...)
	var keys []string
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = match
		it := txn.NewIterator(opts)
		defer it.Close()
		seek := match
		if a := kvKey(sp, after); after != "" && bytes.Compare(a, seek) > 0 {
			seek = a
		}
		for it.Seek(seek); it.Valid() && len(keys) <= limit; it.Next() {
			item := it.Item()
			key, _, err := readString(item.Key()[len(space):])
			if err != nil {
				return err
			}
			if key <= after {
				continue
			}
			var e store.KVEntry
			if err := item.Value(func(v []byte) error { e, err = decodeKV(key, v); return err }); err != nil {
				return err
			}
			if e.Live(now) {
				keys = append(keys, key)
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if len(keys) > limit {
		return keys[:limit], true, nil
	}
	return keys, false, nil
}

// KVUsage implements store.KV.
func (s *Store) KVUsage(ctx context.Context, sp store.KVSpace) (store.KVUsage, error) {
	if err := ctx.Err(); err != nil {
		return store.KVUsage{}, err
	}
	var u store.KVUsage
	err := s.view(func(txn *badger.Txn) error {
		var err error
		u, err = readKVUsage(txn, sp)
		return err
	})
	return u, err
}

// PurgeKV implements store.KV: it lists the expired entries, then deletes them in
// commits of purgeBatch, each entry re-checked in its commit (an entry replaced
// meanwhile is kept) and its space's usage updated there.
func (s *Store) PurgeKV(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	expired, err := s.keysWhere([]byte{prefixKV}, func(v []byte) (bool, error) {
		e, err := decodeKV("", v)
		return err == nil && !e.Live(now), err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for len(expired) > 0 {
		batch := expired[:min(purgeBatch, len(expired))]
		expired = expired[len(batch):]
		deleted := 0
		err := s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
			ws, freed, err := deleteWrites(txn, batch, func(e store.KVEntry) bool { return !e.Live(now) })
			deleted = len(ws) - len(freed)
			return ws, err
		})
		if err != nil {
			return n, err
		}
		n += deleted
	}
	return n, nil
}

// parseKVKey returns the space and key of an entry's Badger key.
func parseKVKey(k []byte) (store.KVSpace, string, error) {
	if len(k) == 0 || k[0] != prefixKV {
		return store.KVSpace{}, "", fmt.Errorf("not a kv entry key: %q", k)
	}
	sp, rest, err := readSpace(k[1:])
	if err != nil {
		return store.KVSpace{}, "", err
	}
	key, _, err := readString(rest)
	return sp, key, err
}

// readSpace reads the space that starts an entry's or a usage's key (after its prefix).
func readSpace(b []byte) (store.KVSpace, []byte, error) {
	scope, rest, err := readString(b)
	if err != nil {
		return store.KVSpace{}, nil, err
	}
	plugin, rest, err := readString(rest)
	return store.KVSpace{Scope: scope, Plugin: plugin}, rest, err
}

// KVSpaces implements store.KV: the usage keys, one per space that holds entries.
func (s *Store) KVSpaces(ctx context.Context) ([]store.KVSpaceUsage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []store.KVSpaceUsage
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixKVUsage}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			sp, _, err := readSpace(item.Key()[1:])
			if err != nil {
				return fmt.Errorf("kv usage key %q: %w", item.Key(), err)
			}
			var u store.KVUsage
			if err := item.Value(func(v []byte) (err error) { u, err = decodeKVUsage(sp, v); return err }); err != nil {
				return err
			}
			out = append(out, store.KVSpaceUsage{Space: sp, Usage: u})
		}
		return nil
	})
	store.SortKVSpaces(out)
	return out, err
}

// KVDropSpace implements store.KV: it lists the space's entries and deletes them in
// commits of purgeBatch, each with the space's usage, until a listing finds none (an
// entry set while it runs is deleted by the next round).
func (s *Store) KVDropSpace(ctx context.Context, sp store.KVSpace) (store.KVUsage, error) {
	var dropped store.KVUsage
	for {
		if err := ctx.Err(); err != nil {
			return dropped, err
		}
		keys, err := s.keysWhere(kvSpacePrefix(sp), func([]byte) (bool, error) { return true, nil })
		if err != nil || len(keys) == 0 {
			return dropped, err
		}
		for len(keys) > 0 {
			batch := keys[:min(purgeBatch, len(keys))]
			keys = keys[len(batch):]
			var freed store.KVUsage
			err := s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
				ws, f, err := deleteWrites(txn, batch, func(store.KVEntry) bool { return true })
				freed = f[sp]
				return ws, err
			})
			if err != nil {
				return dropped, err
			}
			dropped = store.KVUsage{Bytes: dropped.Bytes + freed.Bytes, Keys: dropped.Keys + freed.Keys}
		}
	}
}

// deleteWrites returns the deletes of the entries under keys still stored in txn that
// drop selects, then the usage writes of their spaces, and what each space freed.
func deleteWrites(txn *badger.Txn, keys [][]byte, drop func(store.KVEntry) bool) ([]write, map[store.KVSpace]store.KVUsage, error) {
	var ws []write
	freed := map[store.KVSpace]store.KVUsage{}
	for _, k := range keys {
		sp, key, err := parseKVKey(k)
		if err != nil {
			return nil, nil, err
		}
		e, ok, err := readKV(txn, sp, key)
		if err != nil {
			return nil, nil, err
		}
		if !ok || !drop(e) {
			continue
		}
		ws = append(ws, write{key: k, del: true})
		f := freed[sp]
		freed[sp] = store.KVUsage{Bytes: f.Bytes + e.Size(), Keys: f.Keys + 1}
	}
	for sp, f := range freed {
		u, err := readKVUsage(txn, sp)
		if err != nil {
			return nil, nil, err
		}
		ws = append(ws, usageWrite(sp, store.KVUsage{Bytes: u.Bytes - f.Bytes, Keys: u.Keys - f.Keys}))
	}
	return ws, freed, nil
}
