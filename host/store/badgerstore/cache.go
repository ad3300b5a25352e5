package badgerstore

import (
	"bytes"
	"slices"
	"sync"

	"github.com/apflow-wasm/apflow/host/task"
)

// decodeCache memoizes the decoding of stored task values. An entry holds the exact bytes
// it was decoded from (or encoded to) and is used only when the stored value is equal to
// them byte for byte, so an entry can be evicted or outlived by a newer value but never
// be stale: a lookup either returns what decoding the stored bytes would return, or
// misses. This removes the JSON decoding of a task that was just written or read, which
// dominates the cost of an update (read, modify, encode, and return the result).
//
// Cached tasks are shared and never modified: the committer modifies a clone (see
// store.Step) and callers get clones.
//
// An entry may also be known as stored: the committer, the store's only writer, marks
// it so once it committed the entry's exact bytes (committed), and unmarks it as soon as
// a transaction writes the task again (applied). Only the committer's own reads trust
// that mark (getStored) and skip reading the task: a transaction of a reader may be older
// than the last commit.
//
// Eviction is random (Go's map iteration order) once the cache holds max entries, which
// costs nothing per hit and is good enough for the access pattern of runs: a task is
// read shortly after it was written.
//
// Beside the decoded entries, the cache holds the stored values of the tasks a Create
// wrote beyond the first max, not decoded, up to createdMax bytes (created): a run
// updates each of them next, once, and the committer would otherwise read it back from
// Badger, where the tasks of a wide tree lie in blocks the block cache does not hold
// (most of such a read is decompressing a block). They are known as stored by the same
// rule as the decoded entries, and used by the committer's first read of the task
// (takeCreated: its first update, or a delete or an update that fails). When they are
// full, a Create evicts those of earlier Creates (tasks never run, or not yet), never
// its own: the newest tree gets the room.
type decodeCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cacheEntry

	created      map[string]createdEntry
	createdBytes int64 // the length of the values in created
	createdMax   int64
	generation   uint64 // the last Create's (newGeneration)

	// ended lists the ids of the ended roots putEnded kept, oldest first, at most
	// endedMax; an id whose entry was put again since is no longer an ended one's.
	ended []string
}

// endedMax bounds the ended roots a cache keeps decoded (putEnded): those of the runs
// that just ended, which their end and their callers read, and not a cache full of the
// roots of a server's many small trees, which would evict tasks in flight.
const endedMax = 16

type cacheEntry struct {
	raw    []byte
	t      *task.Task
	stored bool // raw is the task's stored value as of the committer's last commit
	ended  bool // put by putEnded
}

// createdEntry is the value a Create wrote, not decoded.
type createdEntry struct {
	raw        []byte
	stored     bool   // as cacheEntry.stored
	generation uint64 // the Create's
}

// createdCacheBytes bounds the created entries of a Store's cache: the values of some
// 40,000 small tasks. Beyond it a run reads its tasks from Badger as before. On runs of
// 100,000 tasks, holding all of them (32 MiB) added about 40 MiB to the peak RSS for 5%
// less CPU; 8 MiB adds about 15 (docs/performance.md, ninth pass).
const createdCacheBytes = 8 << 20

func newDecodeCache(max int, createdMax int64) *decodeCache {
	if max <= 0 {
		return nil
	}
	return &decodeCache{max: max, m: make(map[string]cacheEntry, min(max, 1024)),
		created: map[string]createdEntry{}, createdMax: createdMax}
}

// get returns the shared decoded form of raw, the stored value of task id, or nil.
func (c *decodeCache) get(id string, raw []byte) *task.Task {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok || !bytes.Equal(e.raw, raw) {
		return nil
	}
	return e.t
}

// put records that raw decodes to t. Neither may be modified afterwards.
func (c *decodeCache) put(id string, raw []byte, t *task.Task) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(id, cacheEntry{raw: raw, t: t})
}

// putEnded is put for a root that ended (settle). The cache keeps the last endedMax such
// roots: putting one more forgets the oldest, unless its entry was put again since.
func (c *decodeCache) putEnded(id string, raw []byte, t *task.Task) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = slices.DeleteFunc(c.ended, func(x string) bool { return x == id })
	c.ended = append(c.ended, id)
	if len(c.ended) > endedMax { // before the put: the room it frees spares an entry
		oldest := c.ended[0]
		c.ended = slices.Delete(c.ended, 0, 1)
		if e, ok := c.m[oldest]; ok && e.ended {
			delete(c.m, oldest)
		}
	}
	c.putLocked(id, cacheEntry{raw: raw, t: t, ended: true})
}

// putLocked stores e as task id's entry, evicting a random entry when the cache is full
// and id has none. c.mu is held.
func (c *decodeCache) putLocked(id string, e cacheEntry) {
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = e
}

// getStored returns the shared decoded form of task id's stored value when the entry is
// known as stored, or nil. Only the committer may call it, between its transactions'
// writes (see committed).
func (c *decodeCache) getStored(id string) *task.Task {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok || !e.stored {
		return nil
	}
	return e.t
}

// newGeneration returns the generation of a Create's created entries, newer than
// every earlier one's.
func (c *decodeCache) newGeneration() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	return c.generation
}

// putCreated records a copy of raw, the value the Create of generation g is about to
// commit for task id, evicting the entries of earlier Creates if it must; it reports
// whether it did. A false means that g's own entries fill the room: the Create stops
// asking (creation.remember). The copy is of raw's length: an encoded task has room to
// grow (marshalTask).
func (c *decodeCache) putCreated(id string, raw []byte, g uint64) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropCreatedLocked(id)
	if c.createdBytes+int64(len(raw)) > c.createdMax {
		for k, e := range c.created {
			if e.generation < g {
				c.dropCreatedLocked(k)
			}
		}
		if c.createdBytes+int64(len(raw)) > c.createdMax {
			return false
		}
	}
	c.created[id] = createdEntry{raw: bytes.Clone(raw), generation: g}
	c.createdBytes += int64(len(raw))
	return true
}

// takeCreated returns and forgets the created entry of task id when it is known as
// stored, or nil. Only the committer may call it, as getStored.
func (c *decodeCache) takeCreated(id string) []byte {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.created[id]
	if !ok || !e.stored {
		return nil
	}
	c.dropCreatedLocked(id)
	return e.raw
}

func (c *decodeCache) dropCreatedLocked(id string) {
	if e, ok := c.created[id]; ok {
		c.createdBytes -= int64(len(e.raw))
		delete(c.created, id)
	}
}

// applied records that ws were written in a transaction not committed yet: the tasks
// they write are no longer known as stored, and those they delete are forgotten. The
// committer calls it before a transaction takes ws.
func (c *decodeCache) applied(ws []write) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range ws {
		id, ok := keyTaskID(w.key)
		if !ok {
			continue
		}
		if w.del {
			delete(c.m, string(id))
			c.dropCreatedLocked(string(id))
			continue
		}
		if e, ok := c.m[string(id)]; ok && e.stored {
			e.stored = false
			c.m[string(id)] = e
		}
		if e, ok := c.created[string(id)]; ok && e.stored {
			e.stored = false
			c.created[string(id)] = e
		}
	}
}

// committed records that a transaction holding wss, in the order they were applied, was
// committed: a task whose entry holds the bytes of its last write is known as stored; one
// whose last write was a delete is forgotten. Only the last write decides: the entry may
// hold the bytes of an earlier one (put by a job that then failed, or by a reader).
func (c *decodeCache) committed(wss [][]write) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ws := range wss {
		for _, w := range ws {
			id, ok := keyTaskID(w.key)
			if !ok {
				continue
			}
			if ce, ok := c.created[string(id)]; ok {
				if ce.stored = !w.del && bytes.Equal(ce.raw, w.value); ce.stored {
					c.created[string(id)] = ce
				} else {
					c.dropCreatedLocked(string(id))
				}
			}
			e, ok := c.m[string(id)]
			switch {
			case !ok:
			case w.del:
				delete(c.m, string(id))
			default:
				e.stored = bytes.Equal(e.raw, w.value)
				c.m[string(id)] = e
			}
		}
	}
}

// keyTaskID returns the id of the task whose key is key (taskKey), or false for the key
// of anything else.
func keyTaskID(key []byte) ([]byte, bool) {
	if len(key) < 3 || key[0] != prefixTask {
		return nil, false
	}
	body := key[1 : len(key)-2]
	if key[len(key)-2] == 0 && key[len(key)-1] == 1 && bytes.IndexByte(body, 0) < 0 {
		return body, true // no escape: the id as it is
	}
	id, rest, err := readString(key[1:])
	if err != nil || len(rest) != 0 {
		return nil, false
	}
	return []byte(id), true
}

// drop forgets task id (deleted tasks).
func (c *decodeCache) drop(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, id)
	c.dropCreatedLocked(id)
	c.mu.Unlock()
}

func (c *decodeCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
