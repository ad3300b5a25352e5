package memstore

import (
	"context"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.Keys = (*Store)(nil)

// CreateKeyed implements store.Keys: the tasks and the record are published together.
func (s *Store) CreateKeyed(ctx context.Context, rec store.KeyRecord, tasks store.Batch) error {
	rec, err := store.PrepareKey(rec)
	if err != nil {
		return err
	}
	put, err := store.EncodeNew(store.Collect(tasks), canonical)
	if err != nil {
		return err
	}
	return s.write(ctx, func(st *state) (change, error) {
		if old, ok := st.keys[keyID{rec.Scope, rec.Key}]; ok && old.Live(rec.CreatedAt) {
			return change{}, &store.KeyTakenError{Record: old}
		}
		for _, t := range put {
			if st.tasks[t.ID] != nil {
				return change{}, store.Exists(t.ID)
			}
		}
		return change{put: put, key: &rec}, nil
	})
}

// LookupKey implements store.Keys.
func (s *Store) LookupKey(ctx context.Context, scope, key string, now time.Time) (store.KeyRecord, bool, error) {
	var rec store.KeyRecord
	var ok bool
	err := s.read(ctx, func(st *state) {
		rec, ok = st.keys[keyID{scope, key}]
	})
	if err != nil || !ok || !rec.Live(now) {
		return store.KeyRecord{}, false, err
	}
	return rec, true, nil
}

// PurgeKeys implements store.Keys.
func (s *Store) PurgeKeys(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.write(ctx, func(st *state) (change, error) {
		var c change
		for id, rec := range st.keys {
			if !rec.Live(now) {
				c.unkey = append(c.unkey, id)
			}
		}
		n = len(c.unkey)
		return c, nil
	})
	return n, err
}
