package memstore

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.KV = (*Store)(nil)

// kvState is the key-value entries of every space. Its own lock serializes every KV
// write, so a set's quota check and its write are one step.
type kvState struct {
	mu     sync.Mutex
	spaces map[store.KVSpace]*kvSpace
}

type kvSpace struct {
	entries map[string]store.KVEntry
	usage   store.KVUsage
}

// kvOp runs fn with the KV state locked, once the call is admitted (see enter).
func (s *Store) kvOp(ctx context.Context, fn func(spaces map[store.KVSpace]*kvSpace) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.ops.Done()
	s.kv.mu.Lock()
	defer s.kv.mu.Unlock()
	if s.kv.spaces == nil {
		s.kv.spaces = map[store.KVSpace]*kvSpace{}
	}
	return fn(s.kv.spaces)
}

// KVGet implements store.KV.
func (s *Store) KVGet(ctx context.Context, sp store.KVSpace, key string, now time.Time) (store.KVEntry, bool, error) {
	if err := store.CheckKVKey(key); err != nil {
		return store.KVEntry{}, false, err
	}
	var e store.KVEntry
	var ok bool
	err := s.kvOp(ctx, func(spaces map[store.KVSpace]*kvSpace) error {
		if x := spaces[sp]; x != nil {
			e, ok = x.entries[key]
		}
		return nil
	})
	if err != nil || !ok || !e.Live(now) {
		return store.KVEntry{}, false, err
	}
	e.Value = bytes.Clone(e.Value)
	return e, true, nil
}

// KVSet implements store.KV.
func (s *Store) KVSet(ctx context.Context, req store.KVSetRequest) (bool, error) {
	req, err := store.CheckKVSet(req)
	if err != nil {
		return false, err
	}
	req.Entry.Value = bytes.Clone(req.Entry.Value)
	stored := false
	err = s.kvOp(ctx, func(spaces map[store.KVSpace]*kvSpace) error {
		x := spaces[req.Space]
		if x == nil {
			x = &kvSpace{entries: map[string]store.KVEntry{}}
		}
		old, had := x.entries[req.Entry.Key]
		if req.IfAbsent && had && old.Live(req.Now) {
			return nil
		}
		next, err := store.KVAdmit(req, x.usage, had, old.Size())
		if err != nil {
			x.purge(req.Now)
			old, had = x.entries[req.Entry.Key]
			if next, err = store.KVAdmit(req, x.usage, had, old.Size()); err != nil {
				return err
			}
		}
		x.entries[req.Entry.Key] = req.Entry
		x.usage = next
		spaces[req.Space] = x
		stored = true
		return nil
	})
	return stored, err
}

// purge deletes the entries expired at now and returns how many.
func (x *kvSpace) purge(now time.Time) int {
	n := 0
	for k, e := range x.entries {
		if !e.Live(now) {
			delete(x.entries, k)
			x.usage.Bytes -= e.Size()
			x.usage.Keys--
			n++
		}
	}
	return n
}

// KVDelete implements store.KV.
func (s *Store) KVDelete(ctx context.Context, sp store.KVSpace, key string, now time.Time) (bool, error) {
	if err := store.CheckKVKey(key); err != nil {
		return false, err
	}
	deleted := false
	err := s.kvOp(ctx, func(spaces map[store.KVSpace]*kvSpace) error {
		x := spaces[sp]
		if x == nil {
			return nil
		}
		e, ok := x.entries[key]
		if !ok {
			return nil
		}
		delete(x.entries, key)
		x.usage.Bytes -= e.Size()
		x.usage.Keys--
		if x.usage.Keys == 0 {
			delete(spaces, sp)
		}
		deleted = e.Live(now)
		return nil
	})
	return deleted, err
}

// KVList implements store.KV.
func (s *Store) KVList(ctx context.Context, sp store.KVSpace, prefix, after string, limit int, now time.Time) ([]string, bool, error) {
	if err := store.CheckKVList(sp, prefix, after, limit); err != nil {
		return nil, false, err
	}
	var keys []string
	err := s.kvOp(ctx, func(spaces map[store.KVSpace]*kvSpace) error {
		if x := spaces[sp]; x != nil {
			for k, e := range x.entries {
				if strings.HasPrefix(k, prefix) && k > after && e.Live(now) {
					keys = append(keys, k)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	slices.Sort(keys)
	if len(keys) > limit {
		return keys[:limit], true, nil
	}
	return keys, false, nil
}

// KVUsage implements store.KV.
func (s *Store) KVUsage(ctx context.Context, sp store.KVSpace) (store.KVUsage, error) {
	var u store.KVUsage
	err := s.kvOp(ctx, func(spaces map[store.KVSpace]*kvSpace) error {
		if x := spaces[sp]; x != nil {
			u = x.usage
		}
		return nil
	})
	return u, err
}

// PurgeKV implements store.KV.
func (s *Store) PurgeKV(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.kvOp(ctx, func(spaces map[store.KVSpace]*kvSpace) error {
		for sp, x := range spaces {
			n += x.purge(now)
			if x.usage.Keys == 0 {
				delete(spaces, sp)
			}
		}
		return nil
	})
	return n, err
}

// KVSpaces implements store.KV.
func (s *Store) KVSpaces(ctx context.Context) ([]store.KVSpaceUsage, error) {
	var out []store.KVSpaceUsage
	err := s.kvOp(ctx, func(spaces map[store.KVSpace]*kvSpace) error {
		for sp, x := range spaces {
			if x.usage.Keys > 0 {
				out = append(out, store.KVSpaceUsage{Space: sp, Usage: x.usage})
			}
		}
		return nil
	})
	store.SortKVSpaces(out)
	return out, err
}

// KVDropSpace implements store.KV.
func (s *Store) KVDropSpace(ctx context.Context, sp store.KVSpace) (store.KVUsage, error) {
	var u store.KVUsage
	err := s.kvOp(ctx, func(spaces map[store.KVSpace]*kvSpace) error {
		if x := spaces[sp]; x != nil {
			u = x.usage
			delete(spaces, sp)
		}
		return nil
	})
	return u, err
}
