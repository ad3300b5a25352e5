package badgerstore

import (
	"bytes"
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
// Eviction is random (Go's map iteration order) once the cache holds max entries, which
// costs nothing per hit and is good enough for the access pattern of runs: a task is
// read shortly after it was written.
type decodeCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cacheEntry
}

type cacheEntry struct {
	raw []byte
	t   *task.Task
}

func newDecodeCache(max int) *decodeCache {
	if max <= 0 {
		return nil
	}
	return &decodeCache{max: max, m: make(map[string]cacheEntry, min(max, 1024))}
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
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = cacheEntry{raw: raw, t: t}
}

// drop forgets task id (deleted tasks).
func (c *decodeCache) drop(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, id)
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
