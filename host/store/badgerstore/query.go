package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// scan calls fn with the header of every index entry under prefix, in key order, until fn
// returns false.
func scan(txn *badger.Txn, prefix []byte, fn func(h header) (bool, error)) error {
	return scanKeys(txn, prefix, func(_ []byte, h header) (bool, error) { return fn(h) })
}

// load reads the tasks with the given ids, in that order. An id without a task means an
// index entry without its task: the store is corrupt.
func (s *Store) load(txn *badger.Txn, ids []string, skipMissing bool) ([]*task.Task, error) {
	out := make([]*task.Task, 0, len(ids))
	for _, id := range ids {
		t, err := s.readTask(txn, id)
		if skipMissing && apferr.CodeOf(err) == apferr.TaskNotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("task store index refers to task %s: %w", id, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// loadIndex reads the tasks of every entry under prefix, in key order.
func (s *Store) loadIndex(ctx context.Context, prefix []byte) ([]*task.Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []*task.Task
	err := s.view(func(txn *badger.Txn) error {
		ids, err := s.indexIDs(ctx, txn, prefix)
		if err != nil {
			return err
		}
		out, err = s.load(txn, ids, false)
		return err
	})
	return out, err
}

// indexIDs returns the task ids of every entry under prefix, in key order.
func (s *Store) indexIDs(ctx context.Context, txn *badger.Txn, prefix []byte) ([]string, error) {
	var ids []string
	n := 0
	err := scan(txn, prefix, func(h header) (bool, error) {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		if !s.hidden(txn, h.ID) {
			ids = append(ids, h.ID)
		}
		return true, nil
	})
	return ids, err
}

// scanChunk is the number of tasks ScanTree decodes per read transaction.
const scanChunk = 256

// ScanTree calls fn with every task of a tree, one at a time, in submission order (seq,
// then id), so a run loads a tree of any size without holding all its tasks decoded at
// once (host/engine reads trees with it). The tree's ids are read in one transaction and
// its tasks scanChunk at a time, each chunk in a transaction of its own: a task deleted
// in between is left out, a task changed in between is seen as changed. fn runs outside
// any transaction (it may use the store); its error stops the scan and is returned.
func (s *Store) ScanTree(ctx context.Context, treeID string, fn func(*task.Task) error) error {
	var ids []string
	err := s.view(func(txn *badger.Txn) error {
		var err error
		ids, err = s.indexIDs(ctx, txn, scopePrefix(prefixTree, treeID))
		return err
	})
	for err == nil && len(ids) > 0 {
		chunk := ids[:min(scanChunk, len(ids))]
		ids = ids[len(chunk):]
		var ts []*task.Task
		if err = s.view(func(txn *badger.Txn) error {
			var err error
			ts, err = s.load(txn, chunk, true) // a task deleted since the ids were read is left out
			return err
		}); err != nil {
			break
		}
		for k, t := range ts {
			ts[k] = nil // the caller's from now on
			if err = fn(t); err != nil {
				break
			}
		}
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*task.Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var t *task.Task
	err := s.view(func(txn *badger.Txn) error {
		var err error
		t, err = s.readTask(txn, id)
		return err
	})
	return t, err
}

// Children implements store.Store: by priority, then seq, then id.
func (s *Store) Children(ctx context.Context, parentID string) ([]*task.Task, error) {
	return s.loadIndex(ctx, scopePrefix(prefixParent, parentID))
}

// Tree implements store.Store: by seq, then id.
func (s *Store) Tree(ctx context.Context, treeID string) ([]*task.Task, error) {
	return s.loadIndex(ctx, scopePrefix(prefixTree, treeID))
}

// Dependents implements store.Store: in submission order (seq, then id).
func (s *Store) Dependents(ctx context.Context, id string) ([]*task.Task, error) {
	out, err := s.loadIndex(ctx, scopePrefix(prefixDependent, id))
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, store.SubmissionOrder)
	return out, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, f store.Filter) ([]*task.Task, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	return s.query(ctx, f, max(f.Offset, 0), limit)
}

// Count implements store.Store.
func (s *Store) Count(ctx context.Context, f store.Filter) (int, error) {
	_, n, err := s.query(ctx, f, 0, 0)
	return n, err
}

// plan picks the index that narrows f the most, and whether its key order is List's
// order (newest first).
func plan(f store.Filter) (prefix []byte, ordered bool) {
	switch {
	case f.ParentID != "":
		return scopePrefix(prefixParent, f.ParentID), false
	case f.TreeID != "":
		return scopePrefix(prefixTree, f.TreeID), false
	case f.UserID != "":
		return scopePrefix(prefixUser, f.UserID), true
	case f.Status != "":
		return scopePrefix(prefixStatus, string(f.Status)), true
	case f.RootOnly:
		return scopePrefix(prefixRoot), true
	default:
		return scopePrefix(prefixAll), true
	}
}

// matches reports whether the entry h, read from an index whose entries carry the status
// when withStatus, matches f; without it f.Status is left to hasStatus.
func matches(f store.Filter, h header, withStatus bool) bool {
	return (f.Status == "" || !withStatus || h.Status == f.Status) &&
		(f.UserID == "" || h.UserID == f.UserID) &&
		(f.TreeID == "" || h.TreeID == f.TreeID) &&
		(f.ParentID == "" || h.ParentID == f.ParentID) &&
		(!f.RootOnly || h.ParentID == "") &&
		f.MatchesCreated(h.Created)
}

// newer reports whether a sorts before b in List's order: created_at, then seq,
// descending, then id ascending (the key order of the ordered indexes).
func newer(a, b header) bool {
	if a.Created != b.Created {
		return a.Created > b.Created
	}
	if a.Seq != b.Seq {
		return a.Seq > b.Seq
	}
	return a.ID < b.ID
}

// hasStatus reports whether the task of entry h, read from an index whose entries do not
// carry the status (statusIndexed), has status st: whether its entry in the status index
// exists.
func hasStatus(txn *badger.Txn, h header, st task.Status) (bool, error) {
	_, err := txn.Get(statusKey(st, h))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the status index of task %s: %w", h.ID, err)
	}
	return true, nil
}

// matchesTask decodes task id (shared with the decode cache: read only) and reports
// whether it matches f's Method and Name.
func (s *Store) matchesTask(txn *badger.Txn, f store.Filter, id string) (bool, error) {
	t, _, err := s.read(txn, id, false)
	if err != nil {
		return false, fmt.Errorf("task store index refers to task %s: %w", id, err)
	}
	return f.MatchesTask(t), nil
}

// query counts the tasks matching f and loads those at [offset, offset+limit) in List's
// order, in one read transaction.
func (s *Store) query(ctx context.Context, f store.Filter, offset, limit int) ([]*task.Task, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	_, ordered := plan(f)
	var page []*task.Task
	total := 0
	err := s.view(func(txn *badger.Txn) error {
		var ids []string
		var unordered []header
		err := s.matching(ctx, txn, f, func(h header) {
			if !ordered {
				unordered = append(unordered, h)
			} else if total >= offset && total < offset+limit {
				ids = append(ids, h.ID)
			}
			total++
		})
		if err != nil {
			return err
		}
		if !ordered {
			sort.Slice(unordered, func(i, j int) bool { return newer(unordered[i], unordered[j]) })
			for i := offset; i < len(unordered) && i < offset+limit; i++ {
				ids = append(ids, unordered[i].ID)
			}
		}
		page, err = s.load(txn, ids, false)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return page, total, nil
}

// CountByStatus implements store.Store: every status is counted in one read transaction,
// one snapshot; in one pass over the index when its entries carry the status (a tree's,
// a user's), else one pass per status.
func (s *Store) CountByStatus(ctx context.Context, f store.Filter) (map[task.Status]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := map[task.Status]int{}
	f.Status = ""
	err := s.view(func(txn *badger.Txn) error {
		if prefix, _ := plan(f); statusIndexed(prefix[0]) {
			return s.matching(ctx, txn, f, func(h header) { out[h.Status]++ })
		}
		for _, st := range task.Statuses {
			f.Status = st
			n := 0
			if err := s.matching(ctx, txn, f, func(header) { n++ }); err != nil {
				return err
			}
			if n > 0 {
				out[st] = n
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// matching calls fn with the index entry of every task matching f, in the key order of
// the index plan picks. Index entries are read to filter; when f sets Method or Name
// (store.Filter.ReadsTasks) they are matched on the entry's name and executor, or, for an
// entry written without them, on the decoded task.
func (s *Store) matching(ctx context.Context, txn *badger.Txn, f store.Filter, fn func(header)) error {
	prefix, _ := plan(f)
	withStatus := statusIndexed(prefix[0])
	scanned := 0
	return scan(txn, prefix, func(h header) (bool, error) {
		if scanned++; scanned%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		if !matches(f, h, withStatus) || s.hidden(txn, h.ID) {
			return true, nil
		}
		if f.Status != "" && !withStatus {
			ok, err := hasStatus(txn, h, f.Status)
			if err != nil || !ok {
				return err == nil, err
			}
		}
		if f.ReadsTasks() && h.Named {
			if !f.MatchesNamed(h.ID, h.Name, h.Method) {
				return true, nil
			}
		} else if f.ReadsTasks() {
			ok, err := s.matchesTask(txn, f, h.ID)
			if err != nil || !ok {
				return err == nil, err
			}
		}
		fn(h)
		return true, nil
	})
}
