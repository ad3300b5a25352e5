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
	if out, ok := appendUUID(b, s); ok {
		return out
	}
	if len(s) == 64 {
		if out, ok := appendHex(append(b, strHex32), s); ok {
			return out
		}
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

// uuidDigits are the spans of hexadecimal digits of a UUID's canonical form, between
// its dashes.
var uuidDigits = [...]struct{ from, to int }{{0, 8}, {9, 13}, {14, 18}, {19, 23}, {24, 36}}

// appendUUID appends strUUID and the 16 bytes of s when s is a UUID in its canonical form
// with lowercase digits; otherwise it returns b as it was and false.
func appendUUID(b []byte, s string) ([]byte, bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, false
	}
	out := append(b, strUUID)
	for _, d := range uuidDigits {
		var ok bool
		if out, ok = appendHex(out, s[d.from:d.to]); !ok {
			return b, false
		}
	}
	return out, true
}

// appendHex appends the bytes that the even-length string s of lowercase hexadecimal
// digits spells, and returns true; when s is not such a string it returns nil and false.
func appendHex(b []byte, s string) ([]byte, bool) {
	if len(s)%2 != 0 {
		return nil, false
	}
	for i := 0; i < len(s); i += 2 {
		hi, lo := lowerHexValue[s[i]], lowerHexValue[s[i+1]]
		if hi|lo > 0xF {
			return nil, false
		}
		b = append(b, hi<<4|lo)
	}
	return b, true
}

// lowerHexValue is the value of each byte as a lowercase hexadecimal digit, 0xFF for
// the bytes that are none.
var lowerHexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

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
		raw := r.bytes(16)
		if len(raw) != 16 {
			return ""
		}
		return task.UUIDString([16]byte(raw))
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
