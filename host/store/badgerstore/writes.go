package badgerstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

func invalidField(id, field, reason string) error {
	return apferr.New(apferr.InvalidParams, fmt.Sprintf("task %s: %s %s", id, field, reason)).
		WithData(map[string]any{"task_id": id, "field": field, "reason": reason})
}

// encoded is a task ready to store: its JSON and its index entries.
type encoded struct {
	id      string
	value   []byte
	entries map[string][]byte
}

func encode(t *task.Task) (encoded, error) {
	v, err := json.Marshal(t)
	if err != nil {
		return encoded{}, fmt.Errorf("encode task %s: %w", t.ID, err)
	}
	return encoded{id: t.ID, value: v, entries: indexEntries(t)}, nil
}

func decode(id string, raw []byte) (*task.Task, error) {
	t := new(task.Task)
	if err := t.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("decode stored task %s: %w", id, err)
	}
	return t, nil
}

// readTask returns the stored task id inside txn, or store.NotFound.
func readTask(txn *badger.Txn, id string) (*task.Task, error) {
	item, err := txn.Get(taskKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, store.NotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read task %s: %w", id, err)
	}
	var t *task.Task
	err = item.Value(func(v []byte) error {
		var err error
		t, err = decode(id, v)
		return err
	})
	return t, err
}

// Create implements store.Store. Tasks are encoded on the caller's goroutine; the
// committer only checks that no id exists yet.
func (s *Store) Create(ctx context.Context, tasks []*task.Task) error {
	if len(tasks) == 0 {
		return nil
	}
	encs := make([]encoded, len(tasks))
	seen := make(map[string]bool, len(tasks))
	for i, t := range tasks {
		if t == nil {
			return apferr.New(apferr.InvalidParams, fmt.Sprintf("task at index %d is null", i))
		}
		if t.ID == "" {
			return invalidField("", "id", "is empty")
		}
		if seen[t.ID] {
			return store.Exists(t.ID)
		}
		seen[t.ID] = true
		if !t.Status.Valid() {
			return invalidField(t.ID, "status", fmt.Sprintf("%q is not a valid status", t.Status))
		}
		if err := checkKeyFields(t); err != nil {
			return err
		}
		var err error
		if encs[i], err = encode(t); err != nil {
			return err
		}
	}
	return s.submit(ctx, newJob(func(txn *badger.Txn) ([]write, error) {
		n := 0
		for _, e := range encs {
			_, err := txn.Get(taskKey(e.id))
			if err == nil {
				return nil, store.Exists(e.id)
			}
			if !errors.Is(err, badger.ErrKeyNotFound) {
				return nil, fmt.Errorf("read task %s: %w", e.id, err)
			}
			n += 1 + len(e.entries)
		}
		ws := make([]write, 0, n)
		for _, e := range encs {
			ws = append(ws, write{key: taskKey(e.id), value: e.value})
			for k, v := range e.entries {
				ws = append(ws, write{key: []byte(k), value: v})
			}
		}
		return ws, nil
	}))
}

// checkIdentity refuses a change of the fields that place a task.
func checkIdentity(old, next *task.Task) error {
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"id", old.ID != next.ID},
		{"parent_id", old.ParentID != next.ParentID},
		{"task_tree_id", old.TaskTreeID != next.TaskTreeID},
		{"user_id", old.UserID != next.UserID},
		{"created_at", !old.CreatedAt.Equal(next.CreatedAt)},
		{"seq", old.Seq != next.Seq},
	} {
		if f.changed {
			return invalidField(old.ID, f.name, "cannot be changed")
		}
	}
	return nil
}

// step applies fn to a copy of cur and checks the result: identity fields unchanged, a
// legal status change, key fields encodable. updated_at is stamped with now unless fn set
// it. Errors of fn are returned unchanged.
func step(cur *task.Task, fn func(*task.Task) error, now time.Time) (*task.Task, error) {
	next := cur.Clone()
	if err := fn(next); err != nil {
		return nil, err
	}
	if err := checkIdentity(cur, next); err != nil {
		return nil, err
	}
	if err := task.CheckTransition(cur.Status, next.Status); err != nil {
		return nil, fmt.Errorf("task %s: %w", cur.ID, err)
	}
	if err := checkKeyFields(next); err != nil {
		return nil, err
	}
	if next.UpdatedAt.Equal(cur.UpdatedAt) {
		next.UpdatedAt = now
	}
	return next, nil
}

// diff returns the writes that turn the stored form old (nil for none) into next.
func diff(oldEntries map[string][]byte, next encoded) []write {
	ws := make([]write, 0, 1+len(next.entries))
	ws = append(ws, write{key: taskKey(next.id), value: next.value})
	for k := range oldEntries {
		if _, ok := next.entries[k]; !ok {
			ws = append(ws, write{key: []byte(k), del: true})
		}
	}
	for k, v := range next.entries {
		if ov, ok := oldEntries[k]; !ok || !bytes.Equal(ov, v) {
			ws = append(ws, write{key: []byte(k), value: v})
		}
	}
	return ws
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	var stored []byte
	err := s.submit(ctx, newJob(func(txn *badger.Txn) ([]write, error) {
		cur, err := readTask(txn, id)
		if err != nil {
			return nil, err
		}
		next, err := step(cur, fn, s.now())
		if err != nil {
			return nil, err
		}
		enc, err := encode(next)
		if err != nil {
			return nil, err
		}
		stored = enc.value
		return diff(indexEntries(cur), enc), nil
	}))
	if err != nil {
		return nil, err
	}
	return decode(id, stored)
}

// UpdateMany implements store.Store. It returns one task per mutation, in order: the task
// as it was after that mutation.
func (s *Store) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	if len(muts) == 0 {
		return []*task.Task{}, nil
	}
	stored := make([][]byte, len(muts))
	err := s.submit(ctx, newJob(func(txn *badger.Txn) ([]write, error) {
		now := s.now()
		cur := make(map[string]*task.Task, len(muts))
		orig := make(map[string]map[string][]byte, len(muts))
		last := make(map[string][]byte, len(muts))
		var order []string
		for i, m := range muts {
			t, ok := cur[m.ID]
			if !ok {
				var err error
				if t, err = readTask(txn, m.ID); err != nil {
					return nil, err
				}
				orig[m.ID] = indexEntries(t)
				order = append(order, m.ID)
			}
			next, err := step(t, m.Fn, now)
			if err != nil {
				return nil, err
			}
			v, err := json.Marshal(next)
			if err != nil {
				return nil, fmt.Errorf("encode task %s: %w", m.ID, err)
			}
			cur[m.ID], last[m.ID], stored[i] = next, v, v
		}
		var ws []write
		for _, id := range order {
			ws = append(ws, diff(orig[id], encoded{id: id, value: last[id], entries: indexEntries(cur[id])})...)
		}
		return ws, nil
	}))
	if err != nil {
		return nil, err
	}
	out := make([]*task.Task, len(muts))
	for i, v := range stored {
		if out[i], err = decode(muts[i].ID, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Delete implements store.Store. Deleting an id that does not exist fails with
// TaskNotFound and deletes nothing.
func (s *Store) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.submit(ctx, newJob(func(txn *badger.Txn) ([]write, error) {
		set := make(map[string]bool, len(ids))
		for _, id := range ids {
			set[id] = true
		}
		var ws []write
		done := make(map[string]bool, len(ids))
		for _, id := range ids {
			if done[id] {
				continue
			}
			done[id] = true
			t, err := readTask(txn, id)
			if err != nil {
				return nil, err
			}
			for _, rel := range []struct {
				prefix byte
				reason string
			}{{prefixParent, "child"}, {prefixDependent, "dependent"}} {
				other, err := firstOutside(txn, scopePrefix(rel.prefix, id), set)
				if err != nil {
					return nil, err
				}
				if other != "" {
					return nil, apferr.New(apferr.CannotDelete,
						fmt.Sprintf("Cannot delete task %s: task %s is its %s and is not deleted with it", id, other, rel.reason)).
						WithData(map[string]any{"task_id": id, "blocking_task_id": other, "reason": rel.reason})
				}
			}
			ws = append(ws, write{key: taskKey(id), del: true})
			for k := range indexEntries(t) {
				ws = append(ws, write{key: []byte(k), del: true})
			}
		}
		return ws, nil
	}))
}

// firstOutside returns the id of the first index entry under prefix whose task is not in
// set, or "".
func firstOutside(txn *badger.Txn, prefix []byte, set map[string]bool) (string, error) {
	var found string
	err := scan(txn, prefix, func(h header) (bool, error) {
		if !set[h.ID] {
			found = h.ID
			return false, nil
		}
		return true, nil
	})
	return found, err
}

func (s *Store) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }
