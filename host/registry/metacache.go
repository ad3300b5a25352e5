package registry

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// hashIndexFile is the file of the metadata cache that maps plugin files to their
// hashes; hashIndexFormat is its layout version.
const (
	hashIndexFile   = "files.json"
	hashIndexFormat = 1
)

// metaCache is the persistent metadata cache: one sandbox.Description per content hash
// (<dir>/<sha256>.json), and a hash index (<dir>/files.json) keyed by a file's absolute
// path, size, modification time, inode and change time, so that an unchanged file is
// neither read nor hashed at start. Everything in it is a hint: a description that does
// not parse, has another format or does not match its module is dropped and the module
// loaded again, and a lazily compiled module checks the hash of the bytes it compiles. A
// nil *metaCache caches nothing.
type metaCache struct {
	dir string
	log hclog.Logger

	mu    sync.Mutex
	files map[string]hashEntry // by absolute path
	dirty bool
}

// hashEntry is what the hash index knows of one file.
type hashEntry struct {
	Size     int64  `json:"size"`
	ModNS    int64  `json:"mtime_ns"`
	ChangeNS int64  `json:"ctime_ns,omitempty"`
	Inode    uint64 `json:"inode,omitempty"`
	Hash     string `json:"sha256"`
}

type hashIndex struct {
	Format int                  `json:"format"`
	Files  map[string]hashEntry `json:"files"`
}

// openMetaCache opens (creating) the cache in dir. A missing or unreadable index starts
// empty. Entries of plugins directories that no longer exist are dropped (one stat per
// directory): the cache outlives the temporary plugins dirs of tests and experiments.
func openMetaCache(dir string, log hclog.Logger) (*metaCache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("registry: create metadata cache dir: %w", err)
	}
	c := &metaCache{dir: dir, log: log, files: map[string]hashEntry{}}
	b, err := os.ReadFile(filepath.Join(dir, hashIndexFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Warn("metadata cache: hash index unreadable, starting empty", "dir", dir, "error", err)
		}
		return c, nil
	}
	var idx hashIndex
	if err := json.Unmarshal(b, &idx); err != nil || idx.Format != hashIndexFormat {
		log.Warn("metadata cache: hash index unusable, starting empty", "dir", dir, "format", idx.Format, "error", err)
		return c, nil
	}
	gone := map[string]bool{} // directories of indexed files, true when missing
	for path, e := range idx.Files {
		if !validHash(e.Hash) {
			continue
		}
		d := filepath.Dir(path)
		if _, seen := gone[d]; !seen {
			_, err := os.Stat(d)
			gone[d] = errors.Is(err, os.ErrNotExist)
		}
		if gone[d] {
			c.dirty = true // the cache is shared by every plugins dir of the user
			continue
		}
		c.files[path] = e
	}
	return c, nil
}

func validHash(h string) bool {
	b, err := hex.DecodeString(h)
	return err == nil && len(b) == 32 && h == strings.ToLower(h)
}

func entryOf(st os.FileInfo, hash string) hashEntry {
	ino, change := fileIdentity(st)
	return hashEntry{Size: st.Size(), ModNS: st.ModTime().UnixNano(), ChangeNS: change, Inode: ino, Hash: hash}
}

// hash returns the hash recorded for path if the file still has the recorded identity.
func (c *metaCache) hash(path string, st os.FileInfo) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.files[path]
	if !ok {
		return "", false
	}
	want := entryOf(st, e.Hash)
	return e.Hash, e == want
}

// setHash records the hash of path with its current identity.
func (c *metaCache) setHash(path string, st os.FileInfo, hash string) {
	if c == nil {
		return
	}
	e := entryOf(st, hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files[path] != e {
		c.files[path] = e
		c.dirty = true
	}
}

// forget drops what the index knows of path.
func (c *metaCache) forget(path string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.files[path]; ok {
		delete(c.files, path)
		c.dirty = true
	}
}

// prune forgets the files of dir that are not in keep (file names).
func (c *metaCache) prune(dir string, keep map[string]bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for path := range c.files {
		if filepath.Dir(path) == dir && !keep[filepath.Base(path)] {
			delete(c.files, path)
			c.dirty = true
		}
	}
}

// flush writes the hash index if it changed. Concurrent processes may overwrite each
// other's index: it is a cache, the loser's files are hashed again next time.
func (c *metaCache) flush() {
	if c == nil {
		return
	}
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return
	}
	b, err := json.Marshal(hashIndex{Format: hashIndexFormat, Files: c.files})
	c.dirty = false
	c.mu.Unlock()
	if err == nil {
		err = writeAtomic(filepath.Join(c.dir, hashIndexFile), b)
	}
	if err != nil {
		c.log.Warn("metadata cache: cannot write hash index", "dir", c.dir, "error", err)
	}
}

func (c *metaCache) descPath(hash string) string { return filepath.Join(c.dir, hash+".json") }

// description returns the cached description of hash, or nil.
func (c *metaCache) description(hash string) *sandbox.Description {
	if c == nil || !validHash(hash) {
		return nil
	}
	b, err := os.ReadFile(c.descPath(hash))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			c.log.Warn("metadata cache: cannot read description", "sha256", hash, "error", err)
		}
		return nil
	}
	var d sandbox.Description
	if err := json.Unmarshal(b, &d); err != nil {
		c.log.Warn("metadata cache: corrupt description dropped", "sha256", hash, "error", err)
		c.drop(hash)
		return nil
	}
	return &d
}

// store writes the description of a module that loaded.
func (c *metaCache) store(d *sandbox.Description) {
	if c == nil || !validHash(d.Hash) {
		return
	}
	b, err := json.Marshal(d)
	if err == nil {
		err = writeAtomic(c.descPath(d.Hash), b)
	}
	if err != nil {
		c.log.Warn("metadata cache: cannot write description", "sha256", d.Hash, "error", err)
	}
}

// drop deletes the description of hash.
func (c *metaCache) drop(hash string) {
	if c == nil || !validHash(hash) {
		return
	}
	if err := os.Remove(c.descPath(hash)); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("metadata cache: cannot drop description", "sha256", hash, "error", err)
	}
}

// writeAtomic writes b to path through a temporary file and a rename, so that readers
// see the old or the new content, never a part.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(b)
	if err := errors.Join(werr, tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return nil
}
