package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// KeyRecord is what a store records with an idempotency key: which submission the key
// named and until when it holds (docs/decisions.md §14).
type KeyRecord struct {
	// Scope is whose key it is (the API uses the caller's user; "" without
	// authentication). Keys of different scopes never meet.
	Scope string
	// Key is the client's idempotency key.
	Key string
	// Digest identifies the content of the submission (the caller computes it; the
	// store compares nothing).
	Digest string
	// RootID and TreeID name the tree the submission created; Count is how many tasks
	// it had.
	RootID string
	TreeID string
	Count  int
	// CreatedAt is when the key was recorded; ExpiresAt is when it stops holding: from
	// then on the key is free (Lookup does not return it, CreateKeyed replaces it).
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MaxKeyLen bounds an idempotency key and its scope, in bytes.
const MaxKeyLen = 255

// Keys records idempotency keys with the submissions they name. Every backend
// implements it (checked by storetest.RunKeys).
//
// Guarantees:
//   - CreateKeyed stores the tasks and the record in one transaction: after a crash
//     either both are stored or neither.
//   - Of concurrent CreateKeyed calls with one scope and key, exactly one stores its
//     tasks; the others store nothing and fail with a *KeyTakenError carrying the
//     winner's record.
//   - Times are kept at microsecond precision in UTC.
type Keys interface {
	// CreateKeyed stores tasks as Create does (same checks, same errors) and records rec
	// in the same transaction. When a record with rec's Scope and Key is stored and has
	// not expired at rec.CreatedAt, nothing is stored and the error is a *KeyTakenError
	// holding that record; an expired one is replaced. rec is checked with CheckKey.
	// tasks is read as BatchCreator.CreateBatch reads it: each task at most twice, none
	// kept by a store that can stream it (badgerstore).
	CreateKeyed(ctx context.Context, rec KeyRecord, tasks Batch) error
	// LookupKey returns the record of scope and key if it has not expired at now.
	// ok is false when there is none or it has expired.
	LookupKey(ctx context.Context, scope, key string, now time.Time) (rec KeyRecord, ok bool, err error)
	// PurgeKeys deletes every record expired at now (ExpiresAt not after now) and
	// returns how many it deleted.
	PurgeKeys(ctx context.Context, now time.Time) (int, error)
}

// KeyTakenError is the error of a CreateKeyed whose key is already recorded.
type KeyTakenError struct {
	Record KeyRecord
}

func (e *KeyTakenError) Error() string {
	return fmt.Sprintf("idempotency key %q is already recorded (tree %s)", e.Record.Key, e.Record.RootID)
}

// PrepareKey returns a record as a backend stores it (NormalizeKey), once checked: scope
// and key as CheckKeyString requires (the key non-empty too), a non-empty digest, root
// and tree, and an expiry after the creation. Every backend's CreateKeyed starts with it.
func PrepareKey(rec KeyRecord) (KeyRecord, error) {
	rec = NormalizeKey(rec)
	return rec, checkKey(rec)
}

func checkKey(rec KeyRecord) error {
	if err := CheckKeyString("scope", rec.Scope); err != nil {
		return err
	}
	if err := CheckKeyString("idempotency_key", rec.Key); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(rec.Key) == "":
		return apferr.InvalidParam("idempotency_key", "must not be empty", "a non-empty string", rec.Key)
	case rec.Digest == "" || rec.RootID == "" || rec.TreeID == "":
		return fmt.Errorf("idempotency key %q: record without digest, root or tree", rec.Key)
	case !rec.ExpiresAt.After(rec.CreatedAt):
		return fmt.Errorf("idempotency key %q: expires at %s, not after its creation at %s", rec.Key, rec.ExpiresAt, rec.CreatedAt)
	}
	return nil
}

// CheckKeyString refuses (code InvalidParams naming field) a scope or key every backend
// cannot keep as it is: longer than MaxKeyLen bytes, invalid UTF-8 or holding a NUL byte.
func CheckKeyString(field, v string) error {
	if len(v) > MaxKeyLen {
		return apferr.InvalidParam(field, fmt.Sprintf("longer than %d bytes", MaxKeyLen), fmt.Sprintf("at most %d bytes", MaxKeyLen), len(v))
	}
	if reason := badKey(v); reason != "" {
		return apferr.InvalidParam(field, reason, "a UTF-8 string without NUL", nil)
	}
	return nil
}

// NormalizeKey returns rec with its times in UTC at microsecond precision, the form
// every backend stores and returns.
func NormalizeKey(rec KeyRecord) KeyRecord {
	rec.CreatedAt = rec.CreatedAt.UTC().Truncate(time.Microsecond)
	rec.ExpiresAt = rec.ExpiresAt.UTC().Truncate(time.Microsecond)
	return rec
}

// Live reports whether rec still holds at now.
func (rec KeyRecord) Live(now time.Time) bool { return rec.ExpiresAt.After(now) }
