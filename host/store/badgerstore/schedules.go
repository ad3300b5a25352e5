package badgerstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// The schedule indexes (store.Schedules). Their entries are index entries like the
// others (indexEntries adds them; value: the header), so they are written and removed in
// the transaction that writes the task.
const (
	prefixDue       byte = 'n' // n <next_run_at asc> <id>          → header (store.Armed tasks)
	prefixScheduled byte = 'c' // c <no next> <next_run_at asc> <id> → header (store.Scheduled tasks)
	prefixMeta      byte = 'm' // m <name>                          → store metadata
)

// scheduleIndexKey marks a data directory whose schedule indexes are complete: Open
// builds them once for tasks stored by a version that did not keep them.
var scheduleIndexKey = appendString([]byte{prefixMeta}, "schedule-indexes-v1")

var _ store.Schedules = (*Store)(nil)

// appendScheduleEntries appends the schedule index entries of t, with value v, to es.
func appendScheduleEntries(es []indexEntry, t *task.Task, v []byte) []indexEntry {
	if !store.Scheduled(t) {
		return es
	}
	next := int64(0)
	if !t.NextRunAt.IsZero() {
		next = t.NextRunAt.UnixMicro()
	}
	if store.Armed(t) {
		k := appendAsc(newKey(prefixDue, 8+len(t.ID)+2), next)
		es = append(es, indexEntry{appendString(k, t.ID), v})
	}
	none := int64(0)
	if t.NextRunAt.IsZero() {
		none = 1
	}
	k := appendAsc(appendAsc(newKey(prefixScheduled, 16+len(t.ID)+2), none), next)
	return append(es, indexEntry{appendString(k, t.ID), v})
}

// Due implements store.Schedules: it reads the due index from its start up to
// q.Before, filtering on the entries' headers, and decodes only the tasks it returns.
func (s *Store) Due(ctx context.Context, q store.DueQuery) ([]*task.Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit, _ := store.PageBounds(q.Limit, 0)
	before := q.Before.UnixMicro()
	var out []*task.Task
	err := s.view(func(txn *badger.Txn) error {
		var ids []string
		err := scanKeys(txn, []byte{prefixDue}, func(key []byte, h header) (bool, error) {
			if next := int64(binary.BigEndian.Uint64(key[1:]) ^ (1 << 63)); next > before {
				return false, nil
			}
			if (q.UserID != "" && h.UserID != q.UserID) || (q.Idle && h.Status == task.InProgress) || s.hidden(txn, h.ID) {
				return true, nil
			}
			ids = append(ids, h.ID)
			return len(ids) < limit, nil
		})
		if err != nil {
			return err
		}
		out, err = s.load(txn, ids, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Scheduled implements store.Schedules: the scheduled index is in the listing's order;
// tasks are decoded to filter on their schedule fields.
func (s *Store) Scheduled(ctx context.Context, q store.ScheduleQuery) ([]*task.Task, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	limit, offset := store.PageBounds(q.Limit, q.Offset)
	page := []*task.Task{}
	total := 0
	err := s.view(func(txn *badger.Txn) error {
		return scanKeys(txn, []byte{prefixScheduled}, func(_ []byte, h header) (bool, error) {
			if (q.UserID != "" && h.UserID != q.UserID) || (q.Status != "" && h.Status != q.Status) || s.hidden(txn, h.ID) {
				return true, nil
			}
			t, err := s.readShared(txn, h.ID)
			if err != nil {
				return false, fmt.Errorf("task store index refers to task %s: %w", h.ID, err)
			}
			if !store.ScheduleMatches(q, t) {
				return true, nil
			}
			if total >= offset && total < offset+limit {
				page = append(page, t.Clone())
			}
			total++
			return true, nil
		})
	})
	if err != nil {
		return nil, 0, err
	}
	return page, total, nil
}

// scanKeys calls fn with the key and header of every index entry under prefix, in key
// order, until fn returns false.
func scanKeys(txn *badger.Txn, prefix []byte, fn func(key []byte, h header) (bool, error)) error {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = prefix
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		var h header
		err := it.Item().Value(func(v []byte) error {
			var err error
			h, err = decodeHeader(v)
			return err
		})
		if err != nil {
			return fmt.Errorf("index entry %q: %w", it.Item().Key(), err)
		}
		if more, err := fn(it.Item().Key(), h); err != nil || !more {
			return err
		}
	}
	return nil
}

// indexSchedules builds the schedule indexes of a data directory written before they
// existed: the entries of every stored task with a schedule, then the marker, so that a
// crash midway builds them again at the next Open. It returns how many tasks it indexed.
func indexSchedules(db *badger.DB, j *journal) (int, error) {
	err := db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(scheduleIndexKey)
		return err
	})
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, badger.ErrKeyNotFound) {
		return 0, err
	}
	var ws []write
	n := 0
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixTask}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			raw, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if !bytes.Contains(raw, []byte(`"schedule_type":"`)) {
				continue
			}
			id, _, err := readString(it.Item().Key()[1:])
			if err != nil {
				return err
			}
			t, err := decode(id, raw)
			if err != nil {
				return err
			}
			for _, e := range appendScheduleEntries(nil, t, headerOf(t).encode()) {
				ws = append(ws, write{key: e.key, value: e.value})
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, commitInBatches(db, j, append(ws, write{key: scheduleIndexKey, value: []byte("1")}))
}
