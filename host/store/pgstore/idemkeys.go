package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.Keys = (*Store)(nil)

// CreateKeyed implements store.Keys. The key's row is inserted first in the transaction
// that stores the tasks: a concurrent CreateKeyed with the same key waits on the primary
// key until this transaction ends, then finds the row and stores nothing.
func (s *Store) CreateKeyed(ctx context.Context, rec store.KeyRecord, tasks store.Batch) error {
	rec, err := store.PrepareKey(rec)
	if err != nil {
		return err
	}
	return s.create(ctx, &rec, store.Collect(tasks))
}

// recordKey inserts rec in tx, replacing a record of its scope and key expired at
// rec.CreatedAt; a live one fails with *store.KeyTakenError.
func recordKey(ctx context.Context, tx pgx.Tx, rec store.KeyRecord) error {
	if _, err := tx.Exec(ctx, `DELETE FROM apflow_idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at <= $3`,
		rec.Scope, rec.Key, rec.CreatedAt); err != nil {
		return fmt.Errorf("replace expired idempotency key %q: %w", rec.Key, err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO apflow_idempotency_keys
		(scope, key, digest, root_id, tree_id, task_count, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (scope, key) DO NOTHING`,
		rec.Scope, rec.Key, rec.Digest, rec.RootID, rec.TreeID, rec.Count, rec.CreatedAt, rec.ExpiresAt)
	if err != nil {
		return fmt.Errorf("record idempotency key %q: %w", rec.Key, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	old, ok, err := lookupKey(ctx, tx, rec.Scope, rec.Key)
	if err != nil {
		return err
	}
	if !ok { // unreachable: the conflicting row is committed and only PurgeKeys deletes rows
		return fmt.Errorf("record idempotency key %q: conflicting record vanished", rec.Key)
	}
	return &store.KeyTakenError{Record: old}
}

// querier is what lookupKey needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func lookupKey(ctx context.Context, q querier, scope, key string) (store.KeyRecord, bool, error) {
	rec := store.KeyRecord{Scope: scope, Key: key}
	err := q.QueryRow(ctx, `SELECT digest, root_id, tree_id, task_count, created_at, expires_at
		FROM apflow_idempotency_keys WHERE scope = $1 AND key = $2`, scope, key).
		Scan(&rec.Digest, &rec.RootID, &rec.TreeID, &rec.Count, &rec.CreatedAt, &rec.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.KeyRecord{}, false, nil
	}
	if err != nil {
		return store.KeyRecord{}, false, fmt.Errorf("read idempotency key %q: %w", key, err)
	}
	rec.CreatedAt, rec.ExpiresAt = rec.CreatedAt.UTC(), rec.ExpiresAt.UTC()
	return rec, true, nil
}

// LookupKey implements store.Keys.
func (s *Store) LookupKey(ctx context.Context, scope, key string, now time.Time) (store.KeyRecord, bool, error) {
	var rec store.KeyRecord
	var ok bool
	err := s.use(ctx, func() error {
		var err error
		rec, ok, err = lookupKey(ctx, s.pool, scope, key)
		return err
	})
	if err != nil || !ok || !rec.Live(now) {
		return store.KeyRecord{}, false, err
	}
	return rec, true, nil
}

// PurgeKeys implements store.Keys.
func (s *Store) PurgeKeys(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.use(ctx, func() error {
		tag, err := s.pool.Exec(ctx, `DELETE FROM apflow_idempotency_keys WHERE expires_at <= $1`, now)
		if err != nil {
			return fmt.Errorf("purge expired idempotency keys: %w", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return int(n), err
}
