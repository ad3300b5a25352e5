package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
)

// The rewrite cache: the module as rewritten (capTables, then limitStack with its stack
// budget and interrupt checks, then mergeData), kept on disk next to wazero's compilation cache and keyed
// by the sha256 of the module as written. A module seen before is compiled from its entry
// without validating it as written (compiling the original with the interpreter, which
// cost 0.46–0.60 s for a Go module, docs/performance.md) and without rewriting it again.
//
// Trusting an entry is sound for the same reason as trusting wazero's compilation cache
// in the same directory: both hold what the host itself derived from bytes it validated,
// and whoever can write that directory can already replace the native code wazero runs,
// which is worse than replacing a module the runtime still validates when compiling it.
// What the cache must guard against is not tampering but staleness and damage:
//
//   - An entry records rewriteFormat; an entry of another format (a host whose rewrite
//     changed) is ignored and replaced.
//   - Entries are kept by compiler (compilerTag: wazero's version and the platform), in
//     a directory each, and an entry records its compiler too: a host whose wazero
//     changed finds none of the old ones, and two binaries sharing a cache dir keep
//     theirs. wazero's own cache misses after such a change (its keys name its version),
//     so without this a module seen before would compile from its entry in this
//     process, where the first compile of a module belongs in the compile worker, whose
//     time bound a module that takes minutes to compile cannot escape (isolate.go).
//     wazero's keys also name the CPU's features, which the tag does not: a cache dir
//     copied to a machine of another CPU, or a binary built without module information
//     (whose tag names an unknown version), still compiles such a module in the host.
//   - An entry records the original's hash and a CRC-32C of the rewritten bytes; a
//     truncated or damaged entry fails the check and is ignored and replaced. A checksum
//     made to catch damage is enough: a sha256 of a Go module's 3.7 MB took as long as
//     reading it, in every process that loads it (docs/performance.md, twenty-second
//     pass).
//   - An entry that passes the checks but does not compile (it cannot happen short of
//     tampering) falls back to the full path, which replaces it.
//
// The key must be the sha256 of the bytes compiled (Runtime.compile's callers compute or
// verify it). Writes go to a temporary file renamed into place, so a reader never sees a
// half-written entry, and concurrent writers of one key write the same bytes.

// rewriteFormat is the version of the rewrite: change it whenever capTables, limitStack,
// the interrupt checks or mergeData produce different bytes for the same module, or the entry's
// layout changes.
//
//   - 2: the name section follows the moved bodies (names.go);
//   - 3: Rust names demangled;
//   - 4: no wrappers: each function charges its frame in its own prologue and restores
//     its level after every call (stack.go); no function moves, so the name section
//     keeps the module's indices.
//   - 5: a frame is charged for its results too.
//   - 6: the entry's check is a CRC-32C, no longer a sha256.
//   - 7: the entry records its compiler (compilerTag), and is kept in a directory of
//     its compiler's (path).
//   - 8: data segments merged (data.go).
const rewriteFormat = 8

// rewriteMagic starts every entry.
const rewriteMagic = "apflow-rewrite\x00\x00"

// RewriteCacheDir is the directory of the rewritten modules inside Config.CacheDir
// (beside wazero's compiled code).
const RewriteCacheDir = "apflow-rewrite"

// rewriteCache reads and writes entries of one compiler; dir "" keeps nothing.
type rewriteCache struct {
	dir      string
	compiler [compilerTagLen]byte
}

// entry layout: magic, format (u32 LE), compiler tag, sha256 of the original, CRC-32C
// of the rewritten bytes (u32 LE), the rewritten bytes.
const rewriteHeaderLen = len(rewriteMagic) + 4 + compilerTagLen + sha256.Size + 4

// castagnoli is the CRC-32C table (computed with the CPU's instruction where it has one).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// path is the entry of the original whose sha256 is hash: in a directory of its
// compiler's own, so that binaries of two wazero versions sharing a cache dir keep an
// entry each rather than replacing each other's at every load.
func (c rewriteCache) path(hash string) string {
	return filepath.Join(c.dir, hex.EncodeToString(c.compiler[:]), hash+".wasm")
}

// legacyPath is where entries of format 6 and before were, beside the compilers' dirs.
func (c rewriteCache) legacyPath(hash string) string { return filepath.Join(c.dir, hash+".wasm") }

// get returns the rewritten module of the original whose sha256 is hash, or false when
// there is no usable entry.
func (c rewriteCache) get(hash string) ([]byte, bool) {
	key, err := hex.DecodeString(hash)
	if c.dir == "" || err != nil || len(key) != sha256.Size {
		return nil, false
	}
	b, err := os.ReadFile(c.path(hash))
	if err != nil || len(b) < rewriteHeaderLen || string(b[:len(rewriteMagic)]) != rewriteMagic {
		return nil, false
	}
	h := b[len(rewriteMagic):rewriteHeaderLen]
	if binary.LittleEndian.Uint32(h) != rewriteFormat || !bytes.Equal(h[4:4+compilerTagLen], c.compiler[:]) {
		return nil, false
	}
	h = h[4+compilerTagLen:]
	if !bytes.Equal(h[:sha256.Size], key) {
		return nil, false
	}
	body := b[rewriteHeaderLen:]
	if binary.LittleEndian.Uint32(h[sha256.Size:]) != crc32.Checksum(body, castagnoli) {
		return nil, false
	}
	return body, true
}

// put stores the rewritten module of the original whose sha256 is hash, and removes the
// original's entry of an earlier format, if any (legacyPath).
func (c rewriteCache) put(hash string, rewritten []byte) error {
	key, err := hex.DecodeString(hash)
	if c.dir == "" {
		return nil
	}
	if err != nil || len(key) != sha256.Size {
		return errors.New("the key is not a sha256 in hex")
	}
	path := c.path(hash)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), hash+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(c.entry(key, rewritten))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write rewrite cache entry: %w", err)
	}
	_ = os.Remove(c.legacyPath(hash))
	return nil
}

// entry is the stored form of the rewritten module of the original whose sha256 is key.
func (c rewriteCache) entry(key, rewritten []byte) []byte {
	b := make([]byte, 0, rewriteHeaderLen+len(rewritten))
	b = append(b, rewriteMagic...)
	b = binary.LittleEndian.AppendUint32(b, rewriteFormat)
	b = append(b, c.compiler[:]...)
	b = append(b, key...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(rewritten, castagnoli))
	return append(b, rewritten...)
}

// compilerTagLen is the length of a compiler's tag in an entry.
const compilerTagLen = 8

// compilerTag names the compiler of this binary: the first bytes of the sha256 of
// wazero's module version, as the binary's build information gives it, and the
// platform (compilerTagOf).
func compilerTag() [compilerTagLen]byte {
	info, _ := debug.ReadBuildInfo()
	return compilerTagOf(info)
}

// compilerTagOf is compilerTag for the build information info. Without wazero in it (a
// test binary lists no dependencies) the version is "unknown", the same for every such
// binary.
func compilerTagOf(info *debug.BuildInfo) [compilerTagLen]byte {
	version := "unknown"
	if info != nil {
		for _, d := range info.Deps {
			if d.Path != "github.com/tetratelabs/wazero" {
				continue
			}
			version = d.Version
			if d.Replace != nil {
				version = d.Replace.Path + "@" + d.Replace.Version
			}
		}
	}
	sum := sha256.Sum256([]byte("wazero " + version + " " + runtime.GOOS + "/" + runtime.GOARCH))
	return [compilerTagLen]byte(sum[:compilerTagLen])
}
