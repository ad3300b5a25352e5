package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Create implements store.Store. Tasks are encoded on the caller's goroutine; the
// committer only checks that no id exists yet.
//
// A submission whose writes fit in one Badger transaction is stored in one commit. A
// larger one (about 12,000 tasks with the default MemTableSize) is stored in chunks of
// one commit each, and stays atomic and invisible until it is whole:
//   - its ids are reserved in memory first: reads do not see them (Get answers
//     TaskNotFound, List and Count skip them), writes to them fail, and another Create
//     of one of them fails with "already exists";
//   - every chunk commits a marker entry (x <create> <chunk> → ids) with its tasks, and a
//     last commit deletes the markers, which makes the submission complete;
//   - on failure the chunks already committed are deleted, marker with tasks; after a
//     crash, Open deletes every chunk whose marker it finds.
func (s *Store) Create(ctx context.Context, tasks []*task.Task) error {
	if len(tasks) == 0 {
		return nil
	}
	return s.create(ctx, nil, tasks)
}

// create stores tasks and, when key is not nil, records it in the commit that makes the
// submission visible: the only commit of a small one, the last of a chunked one.
func (s *Store) create(ctx context.Context, key *keyWrite, tasks []*task.Task) error {
	encs, err := store.EncodeNew(tasks, encode)
	if err != nil {
		return err
	}
	chunks := s.chunk(encs)
	if len(chunks) == 1 {
		if err := s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
			kw, err := key.prepare(txn)
			if err != nil {
				return nil, err
			}
			ws, err := s.createWrites(txn, encs, nil)
			return append(ws, kw...), err
		}); err != nil {
			return err
		}
	} else if err := s.createChunked(ctx, chunks, key); err != nil {
		return err
	}
	// Remember the stored form of the new tasks: a run reads them next.
	for i, t := range tasks {
		c := t.Clone()
		if !canonicalize(c) {
			continue
		}
		s.cache.put(c.ID, encs[i].value, c)
	}
	return nil
}

// createWrites checks that no task of encs exists (or is reserved by a Create in
// progress, unless it is this one's: own) and returns their writes.
func (s *Store) createWrites(txn *badger.Txn, encs []encoded, own *reservation) ([]write, error) {
	n := 0
	for _, e := range encs {
		if own == nil && s.hidden(e.id) {
			return nil, store.Exists(e.id)
		}
		_, err := txn.Get(taskKey(e.id))
		if err == nil {
			return nil, store.Exists(e.id)
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return nil, fmt.Errorf("read task %s: %w", e.id, err)
		}
		n += 1 + len(e.entries)
	}
	ws := make([]write, 0, n+1)
	for _, e := range encs {
		ws = append(ws, write{key: taskKey(e.id), value: e.value})
		for k, v := range e.entries {
			ws = append(ws, write{key: []byte(k), value: v})
		}
	}
	return ws, nil
}

// chunk splits encs into runs whose writes take at most half of a transaction, so that
// each fits in one commit shared with other writes.
func (s *Store) chunk(encs []encoded) [][]encoded {
	var out [][]encoded
	start := 0
	var count, size int64
	for i, e := range encs {
		n := int64(2 + len(e.entries)) // task, index entries, and its share of the marker
		sz := s.c.estimate(write{key: taskKey(e.id), value: e.value}) + int64(len(e.id)) + 2
		for k, v := range e.entries {
			sz += s.c.estimate(write{key: []byte(k), value: v})
		}
		if i > start && (count+n >= s.c.maxCount/2 || size+sz >= s.c.maxSize/2) {
			out = append(out, encs[start:i])
			start, count, size = i, 0, 0
		}
		count += n
		size += sz
	}
	return append(out, encs[start:])
}

// reservation is a chunked Create in progress: its ids are hidden from readers.
type reservation struct {
	id  string // the create's marker scope
	ids map[string]bool
}

// createSeq numbers chunked creates within a process; the marker keys also carry the
// time, so markers of different processes on one directory never collide.
var createSeq atomic.Uint64

// markerKey is the key of the marker of one chunk of a create.
func markerKey(create string, chunk int) []byte {
	return appendAsc(appendString([]byte{prefixCreate}, create), int64(chunk))
}

func markerValue(encs []encoded) []byte {
	var b []byte
	for _, e := range encs {
		b = appendString(b, e.id)
	}
	return b
}

func createdIDs(v []byte) ([]string, error) {
	var ids []string
	for len(v) > 0 {
		var id string
		var err error
		if id, v, err = readString(v); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// createChunked stores a submission too big for one transaction (see Create).
func (s *Store) createChunked(ctx context.Context, chunks [][]encoded, key *keyWrite) error {
	r := &reservation{
		id:  strconv.FormatInt(s.opts.Now().UnixNano(), 36) + "-" + strconv.FormatUint(createSeq.Add(1), 36),
		ids: map[string]bool{},
	}
	for _, c := range chunks {
		for _, e := range c {
			r.ids[e.id] = true
		}
	}
	if err := s.reserve(r); err != nil {
		return err
	}
	done := 0
	var err error
	for i, c := range chunks {
		err = s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
			ws, err := s.createWrites(txn, c, r)
			if err != nil {
				return nil, err
			}
			return append(ws, write{key: markerKey(r.id, i), value: markerValue(c)}), nil
		})
		if err != nil {
			break
		}
		done++
		if s.testChunkHook != nil {
			s.testChunkHook(i)
		}
	}
	if err == nil {
		err = s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
			ws, err := key.prepare(txn)
			if err != nil {
				return nil, err
			}
			for i := range chunks {
				ws = append(ws, write{key: markerKey(r.id, i), del: true})
			}
			return ws, nil
		})
		if err == nil {
			s.release(r)
			return nil
		}
	}
	// Undo the chunks already stored, each with its marker, whatever ctx says.
	for i := done - 1; i >= 0; i-- {
		c := chunks[i]
		uerr := s.submit(context.Background(), func(*badger.Txn) ([]write, error) {
			ws := []write{{key: markerKey(r.id, i), del: true}}
			for _, e := range c {
				ws = append(ws, write{key: taskKey(e.id), del: true})
				for k := range e.entries {
					ws = append(ws, write{key: []byte(k), del: true})
				}
			}
			return ws, nil
		})
		if uerr != nil {
			// The ids stay hidden; the next Open deletes what the markers list.
			s.opts.Logger.Error("undoing a failed create failed; the next open finishes it", "error", uerr)
			return fmt.Errorf("%w (undoing the %d chunks stored also failed: %v)", err, done, uerr)
		}
	}
	s.release(r)
	return err
}

// reserve hides the ids of r, or fails with Exists when one is reserved already.
func (s *Store) reserve(r *reservation) error {
	s.hideMu.Lock()
	defer s.hideMu.Unlock()
	for id := range r.ids {
		if s.hiddenIDs[id] != nil {
			return store.Exists(id)
		}
	}
	if s.hiddenIDs == nil {
		s.hiddenIDs = map[string]*reservation{}
	}
	for id := range r.ids {
		s.hiddenIDs[id] = r
	}
	s.hiding.Add(1)
	return nil
}

func (s *Store) release(r *reservation) {
	s.hideMu.Lock()
	defer s.hideMu.Unlock()
	for id := range r.ids {
		delete(s.hiddenIDs, id)
	}
	s.hiding.Add(-1)
}

// hidden reports whether id belongs to a chunked Create in progress.
func (s *Store) hidden(id string) bool {
	if s.hiding.Load() == 0 {
		return false
	}
	s.hideMu.RLock()
	defer s.hideMu.RUnlock()
	return s.hiddenIDs[id] != nil
}

// undoInterrupted deletes the chunks of creates that a crash interrupted: every chunk
// whose marker is still stored, one transaction per chunk (a chunk fit in one).
func undoInterrupted(db *badger.DB) (int, error) {
	var markers [][]byte
	err := db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{prefixCreate}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			markers = append(markers, it.Item().KeyCopy(nil))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, mk := range markers {
		err := db.Update(func(txn *badger.Txn) error {
			item, err := txn.Get(mk)
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			ids, err := createdIDs(v)
			if err != nil {
				return fmt.Errorf("create marker %q: %w", mk, err)
			}
			for _, id := range ids {
				item, err := txn.Get(taskKey(id))
				if errors.Is(err, badger.ErrKeyNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				raw, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				t, err := decode(id, raw)
				if err != nil {
					return err
				}
				if err := txn.Delete(taskKey(id)); err != nil {
					return err
				}
				for k := range indexEntries(t) {
					if err := txn.Delete([]byte(k)); err != nil {
						return err
					}
				}
			}
			return txn.Delete(mk)
		})
		if err != nil {
			return 0, fmt.Errorf("undo interrupted create: %w", err)
		}
	}
	return len(markers), nil
}
