package badgerstore

import (
	"bytes"
	"context"
	"encoding/binary"
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
// larger one (some 700 tasks with the default options, or a single task with
// some 5,000 dependencies) is stored in chunks of one commit each, and stays atomic and
// invisible until it is whole:
//   - its ids are reserved in memory first: reads do not see them (Get answers
//     TaskNotFound, List and Count skip them), writes to them fail, and another Create
//     of one of them fails with "already exists";
//   - every chunk commits a marker entry (x <create> <chunk> → the keys the chunk
//     writes) with its writes, and a last commit deletes the markers, which makes the
//     submission complete. A chunk splits the writes, not the tasks: the index entries
//     of one task with many dependencies may span several chunks;
//   - on failure the chunks already committed are deleted, marker with writes; after a
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
	if chunks := s.chunk(encs); len(chunks) == 1 {
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
	} else if err := s.createChunked(ctx, encs, chunks, key); err != nil {
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
		if err := s.checkNew(txn, e.id, own); err != nil {
			return nil, err
		}
		n += 1 + len(e.entries)
	}
	ws := make([]write, 0, n)
	for _, e := range encs {
		ws = appendCreate(ws, e)
	}
	return ws, nil
}

// checkNew fails with Exists when id is stored, or reserved by a Create in progress
// other than own.
func (s *Store) checkNew(txn *badger.Txn, id string, own *reservation) error {
	if own == nil && s.hidden(id) {
		return store.Exists(id)
	}
	_, err := txn.Get(taskKey(id))
	if err == nil {
		return store.Exists(id)
	}
	if !errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("read task %s: %w", id, err)
	}
	return nil
}

// appendCreate appends the writes that store e: the task first, then its index entries.
func appendCreate(ws []write, e encoded) []write {
	ws = append(ws, write{key: taskKey(e.id), value: e.value})
	for k, v := range e.entries {
		ws = append(ws, write{key: []byte(k), value: v})
	}
	return ws
}

// span is one chunk of a chunked create: the writes ws[from:to] of the whole create.
type span struct{ from, to int }

// chunk splits the writes of encs, in appendCreate's order, into spans that take at most
// half of a transaction each (with their marker, which lists their keys), so that each
// fits in one commit shared with other writes. One span means the create fits in one
// commit.
func (s *Store) chunk(encs []encoded) []span {
	maxCount, maxSize := s.c.maxCount/2, s.c.maxSize/2
	// The marker's value lists the keys of its span and must itself fit in one value.
	maxKeys := s.c.maxValue / 2
	var out []span
	var from, i int
	var count, size, keys int64
	add := func(w write) {
		sz := s.c.estimate(w)
		if i > from && (count+1 >= maxCount || size+sz >= maxSize || keys+int64(len(w.key))+4 >= maxKeys) {
			out = append(out, span{from, i})
			from, count, size, keys = i, 0, 0, 0
		}
		count++
		size += sz
		keys += int64(len(w.key)) + 4
		i++
	}
	for _, e := range encs {
		add(write{key: taskKey(e.id), value: e.value})
		for k, v := range e.entries {
			add(write{key: []byte(k), value: v})
		}
	}
	return append(out, span{from, i})
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

// markerKeysTag starts a marker that lists keys. Markers written before chunks split
// tasks list task ids instead, and cannot start with it (0x00 0x02 is no escape of
// appendString).
var markerKeysTag = []byte{0, 2}

// markerValue lists the keys of ws: each as a 4-byte big-endian length and the key.
func markerValue(ws []write) []byte {
	n := len(markerKeysTag)
	for _, w := range ws {
		n += 4 + len(w.key)
	}
	b := make([]byte, 0, n)
	b = append(b, markerKeysTag...)
	for _, w := range ws {
		b = binary.BigEndian.AppendUint32(b, uint32(len(w.key)))
		b = append(b, w.key...)
	}
	return b
}

// markerKeys decodes a marker written by markerValue.
func markerKeys(v []byte) ([][]byte, error) {
	v = v[len(markerKeysTag):]
	var keys [][]byte
	for len(v) > 0 {
		if len(v) < 4 || uint64(len(v)-4) < uint64(binary.BigEndian.Uint32(v)) {
			return nil, errors.New("truncated key list")
		}
		n := binary.BigEndian.Uint32(v)
		keys = append(keys, v[4:4+n])
		v = v[4+n:]
	}
	return keys, nil
}

// createdIDs decodes a marker of the earlier form: the ids of whole tasks.
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

// createChunked stores a submission too big for one transaction (see Create), in the
// chunks given.
func (s *Store) createChunked(ctx context.Context, encs []encoded, chunks []span, key *keyWrite) error {
	r := &reservation{
		id:  strconv.FormatInt(s.opts.Now().UnixNano(), 36) + "-" + strconv.FormatUint(createSeq.Add(1), 36),
		ids: make(map[string]bool, len(encs)),
	}
	n := 0
	for _, e := range encs {
		r.ids[e.id] = true
		n += 1 + len(e.entries)
	}
	if err := s.reserve(r); err != nil {
		return err
	}
	all := make([]write, 0, n)
	for _, e := range encs {
		all = appendCreate(all, e)
	}
	done := 0
	var err error
	for i, c := range chunks {
		ws := all[c.from:c.to]
		err = s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
			for _, w := range ws {
				if w.key[0] != prefixTask {
					continue
				}
				id, _, err := readString(w.key[1:])
				if err != nil {
					return nil, err
				}
				if err := s.checkNew(txn, id, r); err != nil {
					return nil, err
				}
			}
			return append(ws[:len(ws):len(ws)], write{key: markerKey(r.id, i), value: markerValue(ws)}), nil
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
			ws := make([]write, 0, 1+c.to-c.from)
			ws = append(ws, write{key: markerKey(r.id, i), del: true})
			for _, w := range all[c.from:c.to] {
				ws = append(ws, write{key: w.key, del: true})
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
	markers, err := keysWithPrefix(db, prefixCreate)
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
			if bytes.HasPrefix(v, markerKeysTag) {
				keys, err := markerKeys(v)
				if err != nil {
					return fmt.Errorf("create marker %q: %w", mk, err)
				}
				for _, k := range keys {
					if err := txn.Delete(k); err != nil {
						return err
					}
				}
				return txn.Delete(mk)
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

// keysWithPrefix lists the keys that start with prefix, in key order, without reading
// their values.
func keysWithPrefix(db *badger.DB, prefix byte) ([][]byte, error) {
	var keys [][]byte
	err := db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte{prefix}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	return keys, err
}
