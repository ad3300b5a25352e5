package badgerstore

import (
	"encoding/binary"
	"encoding/hex"
	"errors"

	"github.com/apflow-wasm/apflow/host/task"
)

// The binary encoding shared by a task's compact fields (compact.go) and index-entry
// headers (keys.go). It is on disk: the kinds and storedStatuses may be appended to,
// never reordered.

// Kinds of a string in compactFields' binary form: one byte, then the string.
const (
	strAbsent = iota // nothing follows
	strUUID          // 16 bytes: a UUID in its canonical lowercase form
	strHex32         // 32 bytes: 64 lowercase hexadecimal digits (a sha256)
	strStatus        // 1 byte: an index into storedStatuses
	strBytes         // uvarint length, then the bytes
	strSame          // 1 byte: the index of an earlier string of the fields equal to it
)

// storedStatuses are the statuses a strStatus string holds, by index.
var storedStatuses = [...]task.Status{task.Pending, task.InProgress, task.Completed, task.Failed, task.Cancelled}

// errMalformed is the error of a stored value or header whose binary part is cut short
// or malformed.
var errMalformed = errors.New("malformed binary fields")

// appendCompactString appends s in the shortest of the kinds that reads back exactly s;
// earlier are the strings appended before it (a root's tree is its id, a child's often
// its parent).
func appendCompactString(b []byte, s string, earlier []string) []byte {
	if s == "" {
		return append(b, strAbsent)
	}
	for i, e := range earlier {
		if s == e {
			return append(b, strSame, byte(i))
		}
	}
	switch {
	case isUUID(s):
		b = append(b, strUUID)
		b = hexAppend(b, s[0:8])
		b = hexAppend(b, s[9:13])
		b = hexAppend(b, s[14:18])
		b = hexAppend(b, s[19:23])
		return hexAppend(b, s[24:36])
	case len(s) == 64 && isLowerHex(s):
		return hexAppend(append(b, strHex32), s)
	}
	for i, st := range storedStatuses {
		if s == string(st) {
			return append(b, strStatus, byte(i))
		}
	}
	b = append(b, strBytes)
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// isUUID reports whether s is a UUID in its canonical form with lowercase digits.
func isUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	return isLowerHex(s[0:8]) && isLowerHex(s[9:13]) && isLowerHex(s[14:18]) && isLowerHex(s[19:23]) && isLowerHex(s[24:36])
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// hexAppend appends the bytes that the even-length lowercase hex string s spells.
func hexAppend(b []byte, s string) []byte {
	b, _ = hex.AppendDecode(b, []byte(s))
	return b
}

// compactReader reads the binary encoding; the first error sticks and every later
// read returns zero.
type compactReader struct {
	b   []byte
	err error
}

func (r *compactReader) fail() {
	if r.err == nil {
		r.err = errMalformed
	}
	r.b = nil
}

func (r *compactReader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *compactReader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.fail()
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *compactReader) uint64() uint64 {
	p := r.bytes(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

func (r *compactReader) varint() int64 {
	v, n := binary.Varint(r.b)
	r.skip(n)
	return v
}

func (r *compactReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	r.skip(n)
	return v
}

// skip consumes the n bytes a varint took; n <= 0 (cut short, or over 64 bits, where
// encoding/binary also returns 0) fails.
func (r *compactReader) skip(n int) {
	if n <= 0 {
		r.fail()
		return
	}
	r.b = r.b[n:]
}

func (r *compactReader) str(earlier []string) string {
	switch r.byte() {
	case strSame:
		if i := int(r.byte()); i < len(earlier) && earlier[i] != "" {
			return earlier[i]
		}
	case strAbsent:
		return ""
	case strUUID:
		p := hex.EncodeToString(r.bytes(16))
		if len(p) != 32 {
			return ""
		}
		return p[0:8] + "-" + p[8:12] + "-" + p[12:16] + "-" + p[16:20] + "-" + p[20:32]
	case strHex32:
		return hex.EncodeToString(r.bytes(32))
	case strStatus:
		if i := int(r.byte()); i < len(storedStatuses) {
			return string(storedStatuses[i])
		}
	case strBytes:
		n := r.uvarint()
		if n <= uint64(len(r.b)) {
			return string(r.bytes(int(n)))
		}
	}
	r.fail()
	return ""
}
