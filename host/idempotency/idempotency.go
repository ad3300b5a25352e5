// Package idempotency makes a repeated submission with the same idempotency key answer
// the first one instead of creating a second tree (docs/api.md "Idempotency keys",
// docs/decisions.md §14). The API (tasks.create, tasks.execute) and apflow run use it;
// the keys are kept by the task store (store.Keys), in the transaction that stores the
// tree they name.
//
// Guarantees:
//   - A key is per scope (the API's scope is the user): keys of different scopes never
//     meet.
//   - Content is the submission's digest (submit.Submission.Digest) and its kind: the
//     same key with another content is refused (Key.Match), and nothing is written.
//   - Of concurrent submissions with one key, one stores its tree; every other one
//     answers from its record (Submitter.Submit).
package idempotency

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
)

// Param is the name of the key in params, flags' errors and error data.
const Param = "idempotency_key"

// DefaultTTL is how long a key holds unless configured otherwise.
const DefaultTTL = 24 * time.Hour

// Kinds of keyed submission, part of a key's content: a key used by tasks.create does
// not replay for tasks.execute (or apflow run), whose answer is a run's.
const (
	KindCreate  = "create"
	KindExecute = "execute"
)

// Key is an idempotency key given with a submission: its scope, the key, and the
// digest of the submission's kind and content.
type Key struct {
	Scope, Key, Digest string
}

// NewKey checks key (CheckKey) and computes the digest of the submission data of kind,
// decoded with namespace ns (as the submission is).
func NewKey(scope, key, kind string, data []byte, ns task.Namespace) (Key, error) {
	if err := CheckKey(key); err != nil {
		return Key{}, err
	}
	sub, err := submit.Decode(data, submit.Options{Namespace: ns})
	if err != nil {
		return Key{}, err
	}
	return keyOf(scope, key, kind, sub)
}

// KeyOf is NewKey of a submission already decoded (submit.Decode, with the namespace it
// is submitted under), before it is validated: a caller that decoded it need not hold
// a second decoded copy while the key is computed.
func KeyOf(scope, key, kind string, sub *submit.Submission) (Key, error) {
	if err := CheckKey(key); err != nil {
		return Key{}, err
	}
	return keyOf(scope, key, kind, sub)
}

// keyOf is KeyOf of a key already checked.
func keyOf(scope, key, kind string, sub *submit.Submission) (Key, error) {
	d, err := sub.Digest()
	if err != nil {
		return Key{}, err
	}
	return Key{Scope: scope, Key: key, Digest: kind + ":" + d}, nil
}

// CheckKey fails with InvalidParams naming idempotency_key when key cannot be an
// idempotency key: empty, or not a valid key string (store.CheckKeyString).
func CheckKey(key string) error {
	if err := store.CheckKeyString(Param, key); err != nil {
		return err
	}
	if key == "" {
		return apferr.InvalidParam(Param, "must not be empty", "a non-empty string", key)
	}
	return nil
}

// Match returns nil when rec was recorded for the same content as k, else the error
// (InvalidParams naming idempotency_key) of a key reused for another submission.
func (k Key) Match(rec store.KeyRecord) error {
	if rec.Digest == k.Digest {
		return nil
	}
	return apferr.New(apferr.InvalidParams, fmt.Sprintf(
		"Invalid params: idempotency_key: %q was already used for a different submission (the content differs); nothing was created. Use a new key for new content.", k.Key)).
		WithData(map[string]any{"field": Param, "reason": "the content differs from the submission first made with this key",
			"root_task_id": rec.RootID})
}

// Submitter stores keyed submissions.
type Submitter struct {
	Keys store.Keys
	// TTL is how long a key holds; DefaultTTL when 0.
	TTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (s Submitter) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Lookup returns the live record of k, or nil; a record of other content is Match's
// error.
func (s Submitter) Lookup(ctx context.Context, k Key) (*store.KeyRecord, error) {
	rec, ok, err := s.Keys.LookupKey(ctx, k.Scope, k.Key, s.now())
	if err != nil {
		return nil, fmt.Errorf("look up idempotency key: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return &rec, k.Match(rec)
}

// Submit stores a keyed submission. When k holds a record already it stores nothing
// and returns the record (the caller answers from it), or Match's error when the
// content differs. Otherwise it calls prepare (validation) and stores the tree's tasks
// with the key in one transaction (store.Keys.CreateKeyed, which reads them as they are
// built: badgerstore holds none of them), returning the tree. A submission
// failing because a concurrent one with the same key won (its ids exist now, or its key
// is recorded) returns the winner's record instead of the failure.
func (s Submitter) Submit(ctx context.Context, k Key, prepare func(ctx context.Context) (*submit.Tree, error)) (*submit.Tree, *store.KeyRecord, error) {
	if rec, err := s.Lookup(ctx, k); rec != nil || err != nil {
		return nil, rec, err
	}
	tree, err := prepare(ctx)
	if err == nil {
		ttl := s.TTL
		if ttl <= 0 {
			ttl = DefaultTTL
		}
		now := s.now()
		err = s.Keys.CreateKeyed(ctx, store.KeyRecord{Scope: k.Scope, Key: k.Key, Digest: k.Digest,
			RootID: tree.RootID(), TreeID: tree.TreeID(), Count: tree.Len(), CreatedAt: now, ExpiresAt: now.Add(ttl)}, tree)
		var taken *store.KeyTakenError
		if errors.As(err, &taken) {
			return nil, &taken.Record, k.Match(taken.Record)
		}
		if err == nil {
			return tree, nil, nil
		}
		err = fmt.Errorf("store submission: %w", err)
	}
	if rec, lerr := s.Lookup(ctx, k); rec != nil || lerr != nil {
		return nil, rec, lerr
	}
	return nil, nil, err
}

// Deleted is the error (TaskNotFound naming the root) of a repeat whose tree was
// deleted since the first submission.
func Deleted(rec store.KeyRecord) error {
	return apferr.New(apferr.TaskNotFound, fmt.Sprintf("Task %s not found: the tree created with this idempotency_key was deleted", rec.RootID)).
		WithData(map[string]any{"task_id": rec.RootID, "field": Param})
}
