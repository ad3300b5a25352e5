package schema

import (
	"container/list"
	"crypto/sha256"
	"sync"
)

// DefaultCacheSize is the number of compiled schemas a Cache keeps when NewCache is
// given 0. Tasks of one tree usually share a handful of schemas; a server sees many
// trees, and a compiled schema costs a few kilobytes.
const DefaultCacheSize = 256

// CacheBytes bounds the total size of the documents a Cache keeps compiled (a compiled
// schema takes a few times its document's size): a few huge schemas cannot make a
// cache of small entries hold gigabytes. The most recent document is kept even when it
// alone is larger.
const CacheBytes = 16 << 20

// Cache compiles documents in one draft and keeps the results, keyed by the sha256 of
// the document's bytes, so each distinct document is compiled once while it stays
// cached. A document that does not compile is cached too, with its error. It holds at
// most its size in documents and CacheBytes of them, and drops the least recently used
// first. It is safe for
// concurrent use: concurrent requests for the same document wait for one compilation.
//
// Two documents that differ in bytes only (key order, spacing) are two entries; callers
// that encode documents with encoding/json get sorted keys, so equal values share one.
type Cache struct {
	name  string
	draft Draft
	size  int
	// maxBytes is CacheBytes (smaller in tests).
	maxBytes int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*list.Element // of *entry
	lru     *list.List                          // front: most recently used
	bytes   int                                 // of the cached documents
	stats   CacheStats
}

type entry struct {
	key    [sha256.Size]byte
	size   int
	once   sync.Once
	schema *Schema
	err    error
}

// CacheStats counts what a Cache did.
type CacheStats struct {
	// Compiles is the number of documents compiled.
	Compiles int64
	// Hits is the number of requests answered from the cache (or by waiting for a
	// compilation another request started).
	Hits int64
	// Evictions is the number of entries dropped to stay within the size.
	Evictions int64
}

// NewCache returns a cache of at most size entries (0: DefaultCacheSize) compiling in
// draft d; name says what the documents are in compile errors (see Compile).
func NewCache(name string, d Draft, size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Cache{name: name, draft: d, size: size, maxBytes: CacheBytes,
		entries: map[[sha256.Size]byte]*list.Element{}, lru: list.New()}
}

// NewTaskCache returns a cache of at most size entries (0: DefaultCacheSize) for tasks'
// own schemas.input_schema, compiled the way submission and execution both read them:
// draft-07 unless they say $schema, nothing external, "input_schema" in errors.
func NewTaskCache(size int) *Cache { return NewCache("input_schema", Draft7, size) }

// Compile returns doc compiled (see the package function Compile), from the cache when
// an identical document was compiled before and is still cached.
func (c *Cache) Compile(doc []byte) (*Schema, error) {
	key := sha256.Sum256(doc)
	c.mu.Lock()
	el, ok := c.entries[key]
	if ok {
		c.lru.MoveToFront(el)
		c.stats.Hits++
	} else {
		el = c.lru.PushFront(&entry{key: key, size: len(doc)})
		c.entries[key] = el
		c.bytes += len(doc)
		c.stats.Compiles++
		for c.lru.Len() > 1 && (c.lru.Len() > c.size || c.bytes > c.maxBytes) {
			old := c.lru.Remove(c.lru.Back()).(*entry)
			delete(c.entries, old.key)
			c.bytes -= old.size
			c.stats.Evictions++
		}
	}
	e := el.Value.(*entry)
	c.mu.Unlock()
	e.once.Do(func() { e.schema, e.err = Compile(c.name, doc, c.draft) })
	return e.schema, e.err
}

// Stats returns what the cache did so far.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Len is the number of cached documents.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
