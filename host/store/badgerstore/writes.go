package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// encoded is a task ready to store: its stored value (marshalTask) and its index entries.
type encoded struct {
	id      string
	value   []byte
	entries []indexEntry // indexEntries
}

// encode returns the stored form of t (marshalTask) and its index entries.
func encode(t *task.Task) (encoded, error) {
	v, err := marshalTask(t)
	if err != nil {
		return encoded{}, err
	}
	return encoded{id: t.ID, value: v, entries: indexEntries(t)}, nil
}

func decode(id string, raw []byte) (*task.Task, error) {
	t, err := unmarshalTask(raw)
	if err != nil {
		return nil, fmt.Errorf("decode stored task %s: %w", id, err)
	}
	return t, nil
}

// settle turns next, a task fn has just modified and that was encoded to raw, into the
// stored form: caller is for the caller of the write (next itself, normalized, when
// canonicalize vouches for it), shared is an equal copy remembered in the cache. fn may
// have kept a reference to next, so the cache never holds next itself. A task that ends
// (a terminal status) is not remembered, and its entry goes: a run does not update it
// again, and its copy was a tenth of a run's allocations and of the live graphs the
// collector marks (docs/performance.md, twentieth pass); caller and shared are then one
// task, the transaction's alone. An ended root is kept, among the last few (putEnded):
// the run's end writes it once more (its run marker goes) and the caller that waited for
// the run reads it, and an aggregator's root, which holds its dependencies' results, is
// the costliest task to decode (docs/performance.md, thirty-third pass).
func (s *Store) settle(next *task.Task, raw []byte) (caller, shared *task.Task, err error) {
	ended := next.Status.Terminal()
	keep := s.cache != nil && (!ended || next.IsRoot())
	if canonicalize(next) {
		caller = next
		if !keep {
			s.cache.drop(next.ID)
			return caller, caller, nil
		}
		shared = next.Clone()
	} else {
		if shared, err = decode(next.ID, raw); err != nil {
			return nil, nil, err
		}
		if !keep {
			s.cache.drop(next.ID)
			return shared, shared, nil
		}
		caller = shared.Clone()
	}
	if ended {
		s.cache.putEnded(shared.ID, raw, shared)
	} else {
		s.cache.put(shared.ID, raw, shared)
	}
	return caller, shared, nil
}

// readShared returns the stored task id inside txn, or store.NotFound. The task may be
// shared with the cache: it must not be modified. Tasks of a Create still in progress
// are not found.
func (s *Store) readShared(txn *badger.Txn, id string) (*task.Task, error) {
	t, _, err := s.read(txn, id, true)
	return t, err
}

// readStored returns the stored task id inside txn, a transaction of the committer, or
// store.NotFound: without reading it when the cache knows its stored value
// (decodeCache.getStored, takeCreated), else as readShared. The task is shared with the
// cache: it must not be modified.
func (s *Store) readStored(txn *badger.Txn, id string) (*task.Task, error) {
	if s.hiddenFromWrites(id) {
		return nil, store.NotFound(id)
	}
	if t := s.cache.getStored(id); t != nil {
		return t, nil
	}
	if raw := s.cache.takeCreated(id); raw != nil {
		return decode(id, raw)
	}
	s.c.reads.Add(1)
	return s.readShared(txn, id)
}

// readTask returns a copy of the stored task id inside txn, or store.NotFound. A miss of
// the cache is decoded but not remembered, so that scans do not evict the tasks being
// written.
func (s *Store) readTask(txn *badger.Txn, id string) (*task.Task, error) {
	t, shared, err := s.read(txn, id, false)
	if err == nil && shared {
		t = t.Clone()
	}
	return t, err
}

// read returns the stored task id and whether it is shared with the cache; remember
// records a decoded miss in the cache.
func (s *Store) read(txn *badger.Txn, id string, remember bool) (*task.Task, bool, error) {
	if s.hidden(txn, id) {
		return nil, false, store.NotFound(id)
	}
	item, err := txn.Get(taskKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, store.NotFound(id)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read task %s: %w", id, err)
	}
	var t *task.Task
	shared := false
	err = item.Value(func(v []byte) error {
		if t = s.cache.get(id, v); t != nil {
			shared = true
			return nil
		}
		var err error
		if t, err = decode(id, v); err != nil {
			return err
		}
		if remember {
			s.cache.put(id, bytes.Clone(v), t)
			shared = true
		}
		return nil
	})
	return t, shared, err
}

// writesPerChange is the usual number of writes of one task's change (appendDiff): the
// task, and the status entry moved and the tree entry rewritten by a status change.
const writesPerChange = 4

// appendDiff appends to ws the writes that turn the stored form whose index entries are
// old (nil for none) into next: the task, a delete of each entry of old that next has
// not, and each entry of next that old has not, or has with another value. Both lists are
// sorted (indexEntries), so one pass compares them, and the writes are few however many
// entries the task has (an aggregator's thousands of dependent entries seldom change).
func appendDiff(ws []write, old []indexEntry, next encoded) []write {
	ws = append(ws, write{key: taskKey(next.id), value: next.value})
	neu := next.entries
	for len(old) > 0 || len(neu) > 0 {
		switch c := compareFirst(old, neu); {
		case c < 0: // old's first entry is gone from next
			ws = append(ws, write{key: old[0].key, del: true})
			old = old[1:]
		case c > 0: // next's first entry is new
			ws = append(ws, write{key: neu[0].key, value: neu[0].value})
			neu = neu[1:]
		default:
			if !bytes.Equal(old[0].value, neu[0].value) {
				ws = append(ws, write{key: neu[0].key, value: neu[0].value})
			}
			old, neu = old[1:], neu[1:]
		}
	}
	return ws
}

// compareFirst compares the first keys of two sorted entry lists; an empty list comes
// after any key.
func compareFirst(a, b []indexEntry) int {
	switch {
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	return bytes.Compare(a[0].key, b[0].key)
}

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	var stored *task.Task
	err := s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
		cur, err := s.readStored(txn, id)
		if err != nil {
			return nil, err
		}
		next, err := store.Step(cur, fn, s.now())
		if err != nil {
			return nil, err
		}
		v, err := marshalTask(next)
		if err != nil {
			return nil, err
		}
		old, entries := changeEntries(cur, next)
		if stored, _, err = s.settle(next, v); err != nil {
			return nil, err
		}
		return appendDiff(make([]write, 0, writesPerChange), old, encoded{id: id, value: v, entries: entries}), nil
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

// UpdateMany implements store.Store. It returns one task per mutation, in order: the task
// as it was after that mutation.
func (s *Store) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	if len(muts) == 0 {
		return []*task.Task{}, s.admit(ctx)
	}
	out := make([]*task.Task, len(muts))
	err := s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
		now := s.now()
		type state struct {
			id      string
			stored  *task.Task   // as stored, before the first mutation
			cur     *task.Task   // before the latest mutation
			value   []byte       // encoding after the latest mutation
			orig    []indexEntry // index entries as stored, as changeEntries gave them with entries
			entries []indexEntry // index entries after the latest mutation
		}
		states := make(map[string]*state, len(muts))
		order := make([]*state, 0, len(muts))
		for i, m := range muts {
			st, ok := states[m.ID]
			if !ok {
				t, err := s.readStored(txn, m.ID)
				if err != nil {
					return nil, err
				}
				st = &state{id: m.ID, stored: t, cur: t}
				states[m.ID] = st
				order = append(order, st)
			} else {
				// A later mutation of the task starts from what the earlier one encoded: the
				// task settle returned may be the one that mutation's function was given and
				// kept, which a function since could have changed.
				cur, err := decode(m.ID, st.value)
				if err != nil {
					return nil, err
				}
				st.cur = cur
			}
			next, err := store.Step(st.cur, m.Fn, now)
			if err != nil {
				return nil, err
			}
			v, err := marshalTask(next)
			if err != nil {
				return nil, err
			}
			caller, shared, err := s.settle(next, v)
			if err != nil {
				return nil, err
			}
			// The index entries are taken now, before a later function could change the task.
			st.orig, st.entries = changeEntries(st.stored, shared)
			out[i], st.value = caller, v
		}
		ws := make([]write, 0, writesPerChange*len(order))
		for _, st := range order {
			ws = appendDiff(ws, st.orig, encoded{id: st.id, value: st.value, entries: st.entries})
		}
		return ws, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete implements store.Store. Deleting an id that does not exist fails with
// TaskNotFound and deletes nothing. The tasks' log lines go with them: their heads in
// the Delete's commit, which makes the lines none (logs.go), then the lines themselves,
// to take their room back (a failure there is logged: the Delete stands).
func (s *Store) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return s.admit(ctx)
	}
	var doomed []string
	err := s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
		g := &deleteGraph{s: s, txn: txn, tasks: make(map[string]*task.Task, len(ids))}
		var err error
		if doomed, err = store.CheckDelete(ids, g); err != nil {
			return nil, err
		}
		emptied, err := store.EmptiedParents(doomed, func(id string) string { return g.tasks[id].ParentID }, g)
		if err != nil {
			return nil, err
		}
		var ws []write
		for _, id := range doomed {
			s.cache.drop(id)
			ws = append(ws, write{key: taskKey(id), del: true})
			for _, e := range indexEntries(g.tasks[id]) {
				ws = append(ws, write{key: e.key, del: true})
			}
			ws = append(ws, write{key: logHeadKey(id), del: true})
		}
		for _, id := range emptied {
			if ws, err = s.clearHasChildren(txn, id, ws); err != nil {
				return nil, err
			}
		}
		return ws, nil
	})
	if err != nil {
		return err
	}
	if err := s.reclaimLogs(context.WithoutCancel(ctx), doomed); err != nil {
		s.opts.Logger.Warn("deleting the log lines of deleted tasks failed; they are no task's, their room stays taken",
			"tasks", len(doomed), "error", err)
	}
	return nil
}

// clearHasChildren appends to ws the writes that store task id, a parent a Delete leaves
// without children, with has_children false (store.EmptiedParents).
func (s *Store) clearHasChildren(txn *badger.Txn, id string, ws []write) ([]write, error) {
	cur, err := s.readStored(txn, id)
	if err != nil {
		return nil, err
	}
	next := cur.Clone()
	next.HasChildren = false
	v, err := marshalTask(next)
	if err != nil {
		return nil, err
	}
	old, entries := changeEntries(cur, next)
	if _, _, err := s.settle(next, v); err != nil {
		return nil, err
	}
	return appendDiff(ws, old, encoded{id: id, value: v, entries: entries}), nil
}

// deleteGraph is the store.DeleteGraph of a Delete's transaction. It keeps the tasks it
// found, whose index entries the Delete removes.
type deleteGraph struct {
	s     *Store
	txn   *badger.Txn
	tasks map[string]*task.Task
}

func (g *deleteGraph) Exists(id string) (bool, error) {
	t, err := g.s.readStored(g.txn, id)
	if apferr.CodeOf(err) == apferr.TaskNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	g.tasks[id] = t
	return true, nil
}

func (g *deleteGraph) ChildOutside(id string, doomed map[string]bool) (string, error) {
	return firstOutside(g.txn, scopePrefix(prefixParent, id), doomed)
}

func (g *deleteGraph) DependentOutside(id string, doomed map[string]bool) (string, error) {
	return firstOutside(g.txn, scopePrefix(prefixDependent, id), doomed)
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
