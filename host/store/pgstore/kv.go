package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.KV = (*Store)(nil)

// Key-value entries (store.KV) are rows of apflow_kv; apflow_kv_usage holds each
// space's usage. A write locks its space's usage row (inserted when missing) before it
// reads anything, so the writes of one space, from every node, run one after another
// and the quota is checked against exact figures.

// nullTime is e's expiry for a timestamptz column: nil for none.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// KVGet implements store.KV.
func (s *Store) KVGet(ctx context.Context, sp store.KVSpace, key string, now time.Time) (store.KVEntry, bool, error) {
	if err := store.CheckKVKey(key); err != nil {
		return store.KVEntry{}, false, err
	}
	e := store.KVEntry{Key: key}
	found := false
	err := s.use(ctx, func() error {
		var exp *time.Time
		err := s.pool.QueryRow(ctx, `SELECT value, expires_at FROM apflow_kv
			WHERE scope = $1 AND plugin = $2 AND key = $3 AND (expires_at IS NULL OR expires_at > $4)`,
			sp.Scope, sp.Plugin, key, now).Scan(&e.Value, &exp)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read kv entry %q of %s: %w", key, sp, err)
		}
		if exp != nil {
			e.ExpiresAt = exp.UTC()
		}
		found = true
		return nil
	})
	if err != nil || !found {
		return store.KVEntry{}, false, err
	}
	if e.Value == nil {
		e.Value = []byte{}
	}
	return e, true, nil
}

// lockUsage locks sp's usage row in tx, creating it when missing, and returns it.
func lockUsage(ctx context.Context, tx pgx.Tx, sp store.KVSpace) (store.KVUsage, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO apflow_kv_usage (scope, plugin, bytes, keys) VALUES ($1, $2, 0, 0)
		ON CONFLICT (scope, plugin) DO NOTHING`, sp.Scope, sp.Plugin); err != nil {
		return store.KVUsage{}, fmt.Errorf("kv usage of %s: %w", sp, err)
	}
	var u store.KVUsage
	if err := tx.QueryRow(ctx, `SELECT bytes, keys FROM apflow_kv_usage WHERE scope = $1 AND plugin = $2 FOR UPDATE`,
		sp.Scope, sp.Plugin).Scan(&u.Bytes, &u.Keys); err != nil {
		return store.KVUsage{}, fmt.Errorf("lock kv usage of %s: %w", sp, err)
	}
	return u, nil
}

// saveUsage writes sp's usage in tx. An emptied space keeps its row (0, 0): deleting
// it would make a write waiting on the row's lock (lockUsage) find no row once this
// transaction commits.
func saveUsage(ctx context.Context, tx pgx.Tx, sp store.KVSpace, u store.KVUsage) error {
	_, err := tx.Exec(ctx, `UPDATE apflow_kv_usage SET bytes = $3, keys = $4 WHERE scope = $1 AND plugin = $2`,
		sp.Scope, sp.Plugin, u.Bytes, u.Keys)
	if err != nil {
		return fmt.Errorf("write kv usage of %s: %w", sp, err)
	}
	return nil
}

// readOld returns the size and expiry of key's stored entry in tx, if any.
func readOld(ctx context.Context, tx pgx.Tx, sp store.KVSpace, key string) (e store.KVEntry, ok bool, err error) {
	var n int64
	var exp *time.Time
	err = tx.QueryRow(ctx, `SELECT octet_length(value), expires_at FROM apflow_kv WHERE scope = $1 AND plugin = $2 AND key = $3`,
		sp.Scope, sp.Plugin, key).Scan(&n, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.KVEntry{}, false, nil
	}
	if err != nil {
		return store.KVEntry{}, false, fmt.Errorf("read kv entry %q of %s: %w", key, sp, err)
	}
	e = store.KVEntry{Key: key, Value: make([]byte, n)} // only its size matters
	if exp != nil {
		e.ExpiresAt = *exp
	}
	return e, true, nil
}

// KVSet implements store.KV.
func (s *Store) KVSet(ctx context.Context, req store.KVSetRequest) (bool, error) {
	req, err := store.CheckKVSet(req)
	if err != nil {
		return false, err
	}
	if req.Entry.Value == nil {
		req.Entry.Value = []byte{}
	}
	stored := false
	err = s.use(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			stored = false
			u, err := lockUsage(ctx, tx, req.Space)
			if err != nil {
				return err
			}
			old, had, err := readOld(ctx, tx, req.Space, req.Entry.Key)
			if err != nil {
				return err
			}
			if req.IfAbsent && had && old.Live(req.Now) {
				return nil
			}
			next, err := store.KVAdmit(req, u, had, old.Size())
			if err != nil {
				// Over a limit: the space's expired entries make room, in this transaction.
				var freed store.KVUsage
				if err := tx.QueryRow(ctx, `WITH gone AS (DELETE FROM apflow_kv
					WHERE scope = $1 AND plugin = $2 AND expires_at <= $3 RETURNING octet_length(key) + octet_length(value) AS n)
					SELECT coalesce(sum(n), 0), count(*) FROM gone`, req.Space.Scope, req.Space.Plugin, req.Now).
					Scan(&freed.Bytes, &freed.Keys); err != nil {
					return fmt.Errorf("delete expired kv entries of %s: %w", req.Space, err)
				}
				u = store.KVUsage{Bytes: u.Bytes - freed.Bytes, Keys: u.Keys - freed.Keys}
				if had && !old.Live(req.Now) {
					had, old = false, store.KVEntry{}
				}
				if next, err = store.KVAdmit(req, u, had, old.Size()); err != nil {
					return err // rolled back, the deletes too
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO apflow_kv (scope, plugin, key, value, expires_at) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (scope, plugin, key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
				req.Space.Scope, req.Space.Plugin, req.Entry.Key, req.Entry.Value, nullTime(req.Entry.ExpiresAt)); err != nil {
				return fmt.Errorf("write kv entry %q of %s: %w", req.Entry.Key, req.Space, err)
			}
			stored = true
			return saveUsage(ctx, tx, req.Space, next)
		})
	})
	return stored, err
}

// KVDelete implements store.KV.
func (s *Store) KVDelete(ctx context.Context, sp store.KVSpace, key string, now time.Time) (bool, error) {
	if err := store.CheckKVKey(key); err != nil {
		return false, err
	}
	deleted := false
	err := s.use(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			deleted = false
			u, err := lockUsage(ctx, tx, sp)
			if err != nil {
				return err
			}
			var n int64
			var exp *time.Time
			err = tx.QueryRow(ctx, `DELETE FROM apflow_kv WHERE scope = $1 AND plugin = $2 AND key = $3
				RETURNING octet_length(key) + octet_length(value), expires_at`, sp.Scope, sp.Plugin, key).Scan(&n, &exp)
			if errors.Is(err, pgx.ErrNoRows) {
				return saveUsage(ctx, tx, sp, u) // drops the row lockUsage may have created
			}
			if err != nil {
				return fmt.Errorf("delete kv entry %q of %s: %w", key, sp, err)
			}
			deleted = exp == nil || exp.After(now)
			return saveUsage(ctx, tx, sp, store.KVUsage{Bytes: u.Bytes - n, Keys: u.Keys - 1})
		})
	})
	return deleted, err
}

// KVList implements store.KV.
func (s *Store) KVList(ctx context.Context, sp store.KVSpace, prefix, after string, limit int, now time.Time) ([]string, bool, error) {
	if err := store.CheckKVList(sp, prefix, after, limit); err != nil {
		return nil, false, err
	}
	var keys []string
	err := s.use(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT key FROM apflow_kv
			WHERE scope = $1 AND plugin = $2 AND starts_with(key, $3) AND key > $4
			AND (expires_at IS NULL OR expires_at > $5) ORDER BY key LIMIT $6`,
			sp.Scope, sp.Plugin, prefix, after, now, limit+1)
		if err != nil {
			return fmt.Errorf("list kv keys of %s: %w", sp, err)
		}
		keys, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("list kv keys of %s: %w", sp, err)
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
	var u store.KVUsage
	err := s.use(ctx, func() error {
		err := s.pool.QueryRow(ctx, `SELECT bytes, keys FROM apflow_kv_usage WHERE scope = $1 AND plugin = $2`,
			sp.Scope, sp.Plugin).Scan(&u.Bytes, &u.Keys)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read kv usage of %s: %w", sp, err)
		}
		return nil
	})
	return u, err
}

// PurgeKV implements store.KV: one transaction per space that holds expired entries,
// each under its space's lock.
func (s *Store) PurgeKV(ctx context.Context, now time.Time) (int, error) {
	var spaces []store.KVSpace
	err := s.use(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT DISTINCT scope, plugin FROM apflow_kv WHERE expires_at <= $1`, now)
		if err != nil {
			return fmt.Errorf("find expired kv entries: %w", err)
		}
		spaces, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.KVSpace, error) {
			var sp store.KVSpace
			err := r.Scan(&sp.Scope, &sp.Plugin)
			return sp, err
		})
		if err != nil {
			return fmt.Errorf("find expired kv entries: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	total := 0
	for _, sp := range spaces {
		var freed store.KVUsage
		err := s.use(ctx, func() error {
			return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				u, err := lockUsage(ctx, tx, sp)
				if err != nil {
					return err
				}
				if err := tx.QueryRow(ctx, `WITH gone AS (DELETE FROM apflow_kv
					WHERE scope = $1 AND plugin = $2 AND expires_at <= $3 RETURNING octet_length(key) + octet_length(value) AS n)
					SELECT coalesce(sum(n), 0), count(*) FROM gone`, sp.Scope, sp.Plugin, now).
					Scan(&freed.Bytes, &freed.Keys); err != nil {
					return fmt.Errorf("delete expired kv entries of %s: %w", sp, err)
				}
				return saveUsage(ctx, tx, sp, store.KVUsage{Bytes: u.Bytes - freed.Bytes, Keys: u.Keys - freed.Keys})
			})
		})
		if err != nil {
			return total, err
		}
		total += int(freed.Keys)
	}
	return total, nil
}

// KVSpaces implements store.KV: the usage rows of spaces that hold entries (an emptied
// space keeps its row, see saveUsage).
func (s *Store) KVSpaces(ctx context.Context) ([]store.KVSpaceUsage, error) {
	var out []store.KVSpaceUsage
	err := s.use(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT scope, plugin, bytes, keys FROM apflow_kv_usage WHERE keys > 0`)
		if err != nil {
			return fmt.Errorf("list kv spaces: %w", err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.KVSpaceUsage, error) {
			var su store.KVSpaceUsage
			err := r.Scan(&su.Space.Scope, &su.Space.Plugin, &su.Usage.Bytes, &su.Usage.Keys)
			return su, err
		})
		if err != nil {
			return fmt.Errorf("list kv spaces: %w", err)
		}
		return nil
	})
	store.SortKVSpaces(out) // in byte order, whatever the database's collation
	return out, err
}

// KVDropSpace implements store.KV: one transaction under the space's lock.
func (s *Store) KVDropSpace(ctx context.Context, sp store.KVSpace) (store.KVUsage, error) {
	var freed store.KVUsage
	err := s.use(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// A space that was never written has no usage row, and no entries: nothing is
			// written for it (lockUsage would add its row).
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM apflow_kv_usage WHERE scope = $1 AND plugin = $2 FOR UPDATE`,
				sp.Scope, sp.Plugin).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("lock kv usage of %s: %w", sp, err)
			}
			if err := tx.QueryRow(ctx, `WITH gone AS (DELETE FROM apflow_kv
				WHERE scope = $1 AND plugin = $2 RETURNING octet_length(key) + octet_length(value) AS n)
				SELECT coalesce(sum(n), 0), count(*) FROM gone`, sp.Scope, sp.Plugin).
				Scan(&freed.Bytes, &freed.Keys); err != nil {
				return fmt.Errorf("drop kv space %s: %w", sp, err)
			}
			return saveUsage(ctx, tx, sp, store.KVUsage{})
		})
	})
	if err != nil {
		return store.KVUsage{}, err
	}
	return freed, nil
}
