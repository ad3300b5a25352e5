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
	"github.com/klauspost/compress/s2"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Create implements store.Store. Tasks are encoded on the caller's goroutine; the
// committer only checks that no id exists yet.
//
// A submission whose writes fit in one Badger transaction is stored in one commit. A
// larger one (a few hundred tasks with the default options, or a single task with
// thousands of dependencies) is stored in chunks of one commit each, encoded as they
// fill, and stays atomic and invisible until it is whole:
//   - its ids are reserved in memory first (hiding.go): another Create of one of them
//     fails with "already exists", and the tasks it stores are hidden from every reader
//     whose snapshot may hold part of it, also one that reads on after the create
//     ended (Get answers TaskNotFound, List and Count skip them), and writes to them
//     fail;
//   - every chunk commits a marker entry (x <create> <chunk> → the keys the chunk
//     writes) with its writes, and a last commit deletes the markers, which makes the
//     submission complete. A chunk splits the writes, not the tasks: the index entries
//     of one task with many dependencies may span several chunks;
//   - on failure the chunks already committed are deleted, marker with writes; after a
//     crash, Open deletes every chunk whose marker it finds.
func (s *Store) Create(ctx context.Context, tasks []*task.Task) error {
	return s.CreateBatch(ctx, store.Tasks(tasks))
}

// CreateBatch implements store.BatchCreator: Create of the tasks of b, each read twice
// (checked, then encoded as the chunks fill) and none kept, so that a submission built
// on demand (submit.Tree) is never held whole as tasks.
func (s *Store) CreateBatch(ctx context.Context, b store.Batch) error {
	if b.Len() == 0 {
		return s.admit(ctx)
	}
	return s.create(ctx, nil, b)
}

// create stores tasks and, when key is not nil, records it in the commit that makes the
// submission visible: the only commit of a small one, the last of a chunked one. Tasks
// are encoded as the chunks fill: a large submission is never held encoded whole.
func (s *Store) create(ctx context.Context, key *keyWrite, tasks store.Batch) error {
	ids, err := store.CheckNew(tasks)
	if err != nil {
		return err
	}
	c := &creation{s: s, ctx: ctx, ids: ids, budget: budget{s: s}, generation: s.cache.newGeneration()}
	add := c.add
	for i := range tasks.Len() {
		t := tasks.Task(i)
		if t == nil || t.ID != ids[i] { // a Batch must read the same tasks twice
			return c.abort(fmt.Errorf("create: task %d was %s when checked, then another", i, ids[i]))
		}
		e, err := encode(t)
		if err != nil {
			return c.abort(err)
		}
		c.remember(t, e.value)
		if err := e.eachWrite(add); err != nil {
			return c.abort(err)
		}
	}
	if err := c.finish(key); err != nil {
		return c.abort(err)
	}
	return nil
}

// remember puts the stored form of a new task in the decode cache before its commit,
// which then marks it as stored (decodeCache.committed): decoded for the first
// DecodeCacheSize tasks, as created entries for as many more as they take. A run
// updates them next, without reading them. Those of a create that fails are dropped
// (with the entries of a stored task whose id the create repeated: a lost hit, never a
// stale entry).
func (c *creation) remember(t *task.Task, value []byte) {
	if c.decoded >= c.s.opts.DecodeCacheSize {
		if c.createdFull || !c.s.cache.putCreated(t.ID, value, c.generation) {
			c.createdFull = true
			return
		}
		c.remembered = append(c.remembered, t.ID)
		return
	}
	if t = t.Clone(); canonicalize(t) {
		c.s.cache.put(t.ID, value, t)
		c.remembered = append(c.remembered, t.ID)
		c.decoded++
	}
}

// checkNew fails with Exists when id is stored, or reserved by a Create in progress
// other than own.
func (s *Store) checkNew(txn *badger.Txn, id string, own *reservation) error {
	if own == nil && s.reserved(id) {
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

// eachWrite calls fn with each write that stores e, the task first, then its index
// entries, and returns the first error fn returns.
func (e encoded) eachWrite(fn func(write) error) error {
	if err := fn(write{key: taskKey(e.id), value: e.value}); err != nil {
		return err
	}
	for _, ie := range e.entries {
		if err := fn(write{key: ie.key, value: ie.value}); err != nil {
			return err
		}
	}
	return nil
}

// budget is the share of one transaction a chunk of writes takes: at most half of it
// (with its marker, which lists its keys), so that each chunk fits in one commit shared
// with other writes.
type budget struct {
	s                 *Store
	count, size, keys int64
}

// full reports whether w does not fit in the chunk any more (a chunk takes at least one
// write).
func (b *budget) full(w write) bool {
	c := b.s.c
	return b.count > 0 && (!c.fitsHalf(b.count+1, b.size+c.estimate(w)) ||
		b.keys+int64(len(w.key))+4 >= c.maxValue/2)
}

// add counts w in the chunk.
func (b *budget) add(w write) {
	b.count++
	b.size += b.s.c.estimate(w)
	b.keys += int64(len(w.key)) + 4
}

// createSeq numbers chunked creates within a process; the marker keys also carry the
// time, so markers of different processes on one directory never collide.
var createSeq atomic.Uint64

// markerKey is the key of the marker of one chunk of a create.
func markerKey(create string, chunk int) []byte {
	return appendAsc(appendString([]byte{prefixCreate}, create), int64(chunk))
}

// Marker values start with a tag: markerPackedTag (the form written now) or
// markerKeysTag, then list keys; markers written before chunks split tasks list task ids
// instead and start with neither (0x00 0x02 and 0x00 0x03 are no escape of appendString).
var (
	markerKeysTag   = []byte{0, 2} // the key list as it is (earlier versions)
	markerPackedTag = []byte{0, 3} // the key list compressed with S2
)

// markerValue lists the keys of ws: each as a 4-byte big-endian length and the key, the
// list compressed with S2 (github.com/klauspost/compress/s2). The keys of one task
// repeat its id and its parent's and tree's ids: compressed, the marker of a chunk of
// small tasks takes about 55 bytes a task instead of 356, which a large create would
// otherwise write to the value log once more (docs/performance.md, twelfth pass).
// scratch holds the uncompressed list and the compression's output between calls; the
// marker returned is a new slice of its own size.
func markerValue(ws []write, scratch *markerScratch) []byte {
	b := scratch.list[:0]
	for _, w := range ws {
		b = binary.BigEndian.AppendUint32(b, uint32(len(w.key)))
		b = append(b, w.key...)
	}
	scratch.list = b
	if n := s2.MaxEncodedLen(len(b)); cap(scratch.packed) < n {
		scratch.packed = make([]byte, n)
	}
	packed := s2.EncodeBetter(scratch.packed[:cap(scratch.packed)], b)
	out := make([]byte, 0, len(markerPackedTag)+len(packed))
	return append(append(out, markerPackedTag...), packed...)
}

// markerScratch is the memory markerValue reuses from one chunk's marker to the next.
type markerScratch struct{ list, packed []byte }

// listsKeys reports whether the marker value v lists keys (markerKeys decodes it) rather
// than the ids of whole tasks (createdIDs).
func listsKeys(v []byte) bool {
	return bytes.HasPrefix(v, markerPackedTag) || bytes.HasPrefix(v, markerKeysTag)
}

// markerKeys decodes a marker that lists keys (listsKeys).
func markerKeys(v []byte) ([][]byte, error) {
	switch {
	case bytes.HasPrefix(v, markerPackedTag):
		list, err := s2.Decode(nil, v[len(markerPackedTag):])
		if err != nil {
			return nil, fmt.Errorf("decompress key list: %w", err)
		}
		v = list
	case bytes.HasPrefix(v, markerKeysTag):
		v = v[len(markerKeysTag):]
	default:
		return nil, errors.New("not a key list")
	}
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

// creation is one Create in progress (see Create): the writes of the chunk being filled
// and, once the submission did not fit in one commit, its reservation and its chunks.
// The chunks' key lists are in their stored markers, not in memory (at a million tasks
// they were 250 MB): an abort reads them back.
//
// A chunk is queued for its commit and the next one is encoded meanwhile: at most
// maxChunksInFlight chunks wait for their commits, which may share one round (a chunk
// takes at most half a transaction, budget). A million-task create spent a seventh of
// its time encoding chunks while none was being committed (docs/performance.md, twelfth
// pass).
type creation struct {
	s   *Store
	ctx context.Context
	ids []string // of the tasks, in order (store.CheckNew)

	cur         []write // the chunk being filled
	budget      budget
	r           *reservation  // set at the first chunk queued
	curTasks    int           // tasks whose stored value is in the chunk being filled
	queuedTasks int           // tasks whose stored value is in a chunk queued
	chunks      int           // the chunks queued; chunk i's marker is markerKey(r.id, i)
	inFlight    []queuedChunk // queued chunks whose outcome is not known yet, oldest first
	stored      int           // chunks 0..stored-1 are known committed (afterChunk)
	scratch     markerScratch
	remembered  []string // the ids of the tasks put in the decode cache (remember)
	decoded     int      // how many of them were put decoded
	generation  uint64   // of its created entries (decodeCache.newGeneration)
	createdFull bool     // its created entries fill the room: no more are put
}

// maxChunksInFlight is how many chunks of a create may wait for their commits at once.
const maxChunksInFlight = 2

// queuedChunk is a chunk queued for its commit.
type queuedChunk struct {
	index int
	wait  func() error // its outcome (groupcommit.Queue.Enqueue)
}

// add appends w to the chunk being filled, queuing the chunk first when w does not fit.
func (c *creation) add(w write) error {
	if c.budget.full(w) {
		if err := c.commitChunk(); err != nil {
			return err
		}
	}
	c.budget.add(w)
	c.cur = append(c.cur, w)
	if w.key[0] == prefixTask {
		c.curTasks++
	}
	return nil
}

// commitChunk queues the chunk being filled for its commit with its marker, reserving
// the submission's ids at the first, then waits for the oldest chunk's outcome while
// maxChunksInFlight are queued.
func (c *creation) commitChunk() error {
	if c.r == nil {
		r := &reservation{id: strconv.FormatInt(c.s.opts.Now().UnixNano(), 36) + "-" + strconv.FormatUint(createSeq.Add(1), 36)}
		if err := c.s.reserve(r, c.ids); err != nil {
			return err
		}
		c.r = r
	}
	i, ws := c.chunks, c.cur
	// The chunk's writes and its marker, appended here: the job owns the slice (c.cur is
	// replaced below), and the committer only reads what it returns.
	writes, upTo := len(ws), c.queuedTasks+c.curTasks
	c.queuedTasks, c.curTasks = upTo, 0
	ws = append(ws, write{key: markerKey(c.r.id, i), value: markerValue(ws, &c.scratch)})
	wait := c.s.c.queue.Enqueue(c.ctx, func(txn *badger.Txn) ([]write, error) {
		if err := c.s.afterChunk(txn, c.r, i); err != nil {
			return nil, err
		}
		if err := c.s.checkTasks(txn, ws[:writes], c.r); err != nil {
			return nil, err
		}
		c.s.hideStored(c.r, upTo, txn) // before the commit: no snapshot holds them unhidden
		return ws, nil
	})
	c.inFlight = append(c.inFlight, queuedChunk{index: i, wait: wait})
	c.chunks++
	c.cur, c.budget = make([]write, 0, len(ws)), budget{s: c.s} // room for the next chunk's marker too
	for len(c.inFlight) >= maxChunksInFlight {
		if err := c.settleOldest(); err != nil {
			return err
		}
	}
	return nil
}

// errChunkBefore fails a chunk whose predecessor was not stored.
var errChunkBefore = errors.New("the chunk before was not stored")

// afterChunk fails unless chunk i-1 of r is stored or written earlier in txn (its marker
// is there), so that the chunks a create commits are always its first ones: a chunk
// queued behind one that failed (an id exists), was abandoned (ctx ended) or whose
// commit failed stores nothing. It matters because chunks split writes, not tasks: a
// chunk holding only index entries of a task whose id turned out to be taken would
// overwrite the stored task's entries, which the undo would then delete.
func (s *Store) afterChunk(txn *badger.Txn, r *reservation, i int) error {
	if i == 0 {
		return nil
	}
	_, err := txn.Get(markerKey(r.id, i-1))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return errChunkBefore
	}
	if err != nil {
		return fmt.Errorf("read create marker %d: %w", i-1, err)
	}
	return nil
}

// settleOldest waits for the outcome of the oldest queued chunk.
func (c *creation) settleOldest() error {
	q := c.inFlight[0]
	c.inFlight = c.inFlight[1:]
	if err := q.wait(); err != nil {
		return err
	}
	c.stored++ // q.index: chunks settle in order, and one commits only after the one before
	if c.s.testChunkHook != nil {
		c.s.testChunkHook(q.index)
	}
	return nil
}

// finish commits what is left: the whole submission with key in one commit when no chunk
// was queued, else the last chunk and, once every chunk is committed, the commit that
// deletes the markers with key, which makes the submission visible.
func (c *creation) finish(key *keyWrite) error {
	if c.r == nil {
		return c.s.submit(c.ctx, func(txn *badger.Txn) ([]write, error) {
			kw, err := key.prepare(txn)
			if err != nil {
				return nil, err
			}
			if err := c.s.checkTasks(txn, c.cur, nil); err != nil {
				return nil, err
			}
			return append(c.cur[:len(c.cur):len(c.cur)], kw...), nil
		})
	}
	if err := c.commitChunk(); err != nil {
		return err
	}
	for len(c.inFlight) > 0 {
		if err := c.settleOldest(); err != nil {
			return err
		}
	}
	err := c.s.submit(c.ctx, func(txn *badger.Txn) ([]write, error) {
		ws, err := key.prepare(txn)
		if err != nil {
			return nil, err
		}
		for i := range c.chunks {
			ws = append(ws, write{key: markerKey(c.r.id, i), del: true})
		}
		return ws, nil
	})
	if err == nil {
		c.s.release(c.r)
		c.r = nil
	}
	return err
}

// abort waits for the outcome of the chunks still queued, undoes those committed (the
// first ones: afterChunk), each with its marker, whatever ctx says, and returns err.
func (c *creation) abort(err error) error {
	for len(c.inFlight) > 0 {
		_ = c.settleOldest() // a chunk that failed or was abandoned stored nothing
	}
	if c.r != nil {
		c.s.unhideFrom(c.r, c.stored) // the chunks checked but not stored hide nothing
	}
	for _, id := range c.remembered {
		c.s.cache.drop(id)
	}
	if c.r == nil {
		return err
	}
	for i := c.stored - 1; i >= 0; i-- {
		uerr := c.s.submit(context.Background(), func(txn *badger.Txn) ([]write, error) {
			mk := markerKey(c.r.id, i)
			ws, err := chunkDeletes(txn, mk)
			if err != nil {
				return nil, err
			}
			return append(ws, write{key: mk, del: true}), nil
		})
		if uerr != nil {
			// The ids stay hidden; the next Open deletes what the markers list.
			c.s.opts.Logger.Error("undoing a failed create failed; the next open finishes it", "error", uerr)
			return fmt.Errorf("%w (undoing the %d chunks stored also failed: %v)", err, i+1, uerr)
		}
	}
	c.s.release(c.r)
	return err
}

// checkTasks fails with Exists when a task that ws writes is stored, or reserved by a
// Create in progress other than own.
func (s *Store) checkTasks(txn *badger.Txn, ws []write, own *reservation) error {
	for _, w := range ws {
		if w.key[0] != prefixTask {
			continue
		}
		id, _, err := readString(w.key[1:])
		if err != nil {
			return err
		}
		if err := s.checkNew(txn, id, own); err != nil {
			return err
		}
	}
	return nil
}

// undoInterrupted deletes the chunks of creates that a crash interrupted: every chunk
// whose marker is still stored, the marker last (commitInBatches: the chunk may have
// been written under larger transaction bounds than this process's).
func undoInterrupted(db *badger.DB, j *journal) (int, error) {
	markers, err := keysWithPrefix(db, prefixCreate)
	if err != nil {
		return 0, err
	}
	for _, mk := range markers {
		var ws []write
		err := db.View(func(txn *badger.Txn) error {
			var err error
			ws, err = chunkDeletes(txn, mk)
			return err
		})
		if err == nil {
			err = commitInBatches(db, j, append(ws, write{key: mk, del: true}))
		}
		if err != nil {
			return 0, fmt.Errorf("undo interrupted create: %w", err)
		}
	}
	return len(markers), nil
}

// chunkDeletes returns the deletes that undo the chunk whose marker is at mk (without
// the marker's own, which its callers order): of the keys it lists, or, in the form of
// earlier versions that lists task ids, of each stored task and its index entries.
func chunkDeletes(txn *badger.Txn, mk []byte) ([]write, error) {
	item, err := txn.Get(mk)
	if err != nil {
		return nil, fmt.Errorf("read create marker %q: %w", mk, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("read create marker %q: %w", mk, err)
	}
	var ws []write
	if listsKeys(v) {
		keys, err := markerKeys(v)
		if err != nil {
			return nil, fmt.Errorf("create marker %q: %w", mk, err)
		}
		for _, k := range keys {
			ws = append(ws, write{key: k, del: true})
		}
		return ws, nil
	}
	ids, err := createdIDs(v)
	if err != nil {
		return nil, fmt.Errorf("create marker %q: %w", mk, err)
	}
	for _, id := range ids {
		item, err := txn.Get(taskKey(id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		raw, err := item.ValueCopy(nil)
		if err != nil {
			return nil, err
		}
		t, err := decode(id, raw)
		if err != nil {
			return nil, err
		}
		// The task last: an undo interrupted between its writes finds the task again,
		// and with it the index entries left to delete.
		for _, e := range indexEntries(t) {
			ws = append(ws, write{key: e.key, del: true})
		}
		ws = append(ws, write{key: taskKey(id), del: true})
	}
	return ws, nil
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
