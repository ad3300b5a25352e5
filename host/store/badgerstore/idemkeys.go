package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.Keys = (*Store)(nil)

// storedKey is the stored form of a store.KeyRecord (times in Unix microseconds).
type storedKey struct {
	Scope     string `json:"scope"`
	Key       string `json:"key"`
	Digest    string `json:"digest"`
	RootID    string `json:"root_id"`
	TreeID    string `json:"tree_id"`
	Count     int    `json:"count"`
	CreatedAt int64  `json:"created_at_us"`
	ExpiresAt int64  `json:"expires_at_us"`
}

func idemKey(scope, key string) []byte {
	return appendString(appendString([]byte{prefixIdemKey}, scope), key)
}

func encodeKey(rec store.KeyRecord) ([]byte, error) {
	return json.Marshal(storedKey{Scope: rec.Scope, Key: rec.Key, Digest: rec.Digest, RootID: rec.RootID,
		TreeID: rec.TreeID, Count: rec.Count, CreatedAt: rec.CreatedAt.UnixMicro(), ExpiresAt: rec.ExpiresAt.UnixMicro()})
}

func decodeKey(v []byte) (store.KeyRecord, error) {
	var k storedKey
	if err := json.Unmarshal(v, &k); err != nil {
		return store.KeyRecord{}, fmt.Errorf("decode idempotency key record: %w", err)
	}
	return store.KeyRecord{Scope: k.Scope, Key: k.Key, Digest: k.Digest, RootID: k.RootID, TreeID: k.TreeID,
		Count: k.Count, CreatedAt: time.UnixMicro(k.CreatedAt).UTC(), ExpiresAt: time.UnixMicro(k.ExpiresAt).UTC()}, nil
}

// readKey reads the record of scope and key in txn; ok is false when there is none.
func readKey(txn *badger.Txn, scope, key string) (rec store.KeyRecord, ok bool, err error) {
	item, err := txn.Get(idemKey(scope, key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return store.KeyRecord{}, false, nil
	}
	if err != nil {
		return store.KeyRecord{}, false, fmt.Errorf("read idempotency key %q: %w", key, err)
	}
	err = item.Value(func(v []byte) error {
		rec, err = decodeKey(v)
		return err
	})
	return rec, err == nil, err
}

// keyWrite is an idempotency key to record with a Create. A nil *keyWrite records
// nothing.
type keyWrite struct {
	rec   store.KeyRecord
	value []byte
}

// prepare checks, inside the commit's transaction, that the key is free (absent or
// expired) and returns its write.
func (k *keyWrite) prepare(txn *badger.Txn) ([]write, error) {
	if k == nil {
		return nil, nil
	}
	old, ok, err := readKey(txn, k.rec.Scope, k.rec.Key)
	if err != nil {
		return nil, err
	}
	if ok && old.Live(k.rec.CreatedAt) {
		return nil, &store.KeyTakenError{Record: old}
	}
	return []write{{key: idemKey(k.rec.Scope, k.rec.Key), value: k.value}}, nil
}

// CreateKeyed implements store.Keys. The record is written in the commit that makes the
// submission visible (for a chunked Create, the last one), so a crash before it leaves
// neither, and the committer, the only writer, checks the key in that same commit.
func (s *Store) CreateKeyed(ctx context.Context, rec store.KeyRecord, tasks store.Batch) error {
	rec, err := store.PrepareKey(rec)
	if err != nil {
		return err
	}
	v, err := encodeKey(rec)
	if err != nil {
		return err
	}
	return s.create(ctx, &keyWrite{rec: rec, value: v}, tasks)
}

// LookupKey implements store.Keys.
func (s *Store) LookupKey(ctx context.Context, scope, key string, now time.Time) (store.KeyRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return store.KeyRecord{}, false, err
	}
	var rec store.KeyRecord
	var ok bool
	err := s.view(func(txn *badger.Txn) error {
		var err error
		rec, ok, err = readKey(txn, scope, key)
		return err
	})
	if err != nil || !ok || !rec.Live(now) {
		return store.KeyRecord{}, false, err
	}
	return rec, true, nil
}

// purgeBatch is how many records one commit of PurgeKeys, PurgeKV or KVDropSpace
// deletes.
const purgeBatch = 1000

// keysWhere lists the keys under prefix whose value pick picks (for the purges: is
// expired), in one read transaction; the purges re-check each in the commit that
// deletes it.
func (s *Store) keysWhere(prefix []byte, pick func(v []byte) (bool, error)) ([][]byte, error) {
	var keys [][]byte
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			err := it.Item().Value(func(v []byte) error {
				picked, err := pick(v)
				if picked {
					keys = append(keys, it.Item().KeyCopy(nil))
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return keys, err
}

// PurgeKeys implements store.Keys: it lists expired records, then deletes them in
// commits of purgeBatch, each record re-checked in its commit (a record replaced
// meanwhile is kept).
func (s *Store) PurgeKeys(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	expired, err := s.keysWhere([]byte{prefixIdemKey}, func(v []byte) (bool, error) {
		rec, err := decodeKey(v)
		return err == nil && !rec.Live(now), err
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
			var ws []write
			for _, k := range batch {
				item, err := txn.Get(k)
				if errors.Is(err, badger.ErrKeyNotFound) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("read idempotency key record: %w", err)
				}
				var rec store.KeyRecord
				if err := item.Value(func(v []byte) error { rec, err = decodeKey(v); return err }); err != nil {
					return nil, err
				}
				if !rec.Live(now) {
					ws = append(ws, write{key: k, del: true})
				}
			}
			deleted = len(ws)
			return ws, nil
		})
		if err != nil {
			return n, err
		}
		n += deleted
	}
	return n, nil
}
