package badgerstore

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"time"
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/task"
)

// compactFields are the members of a task that its stored value holds in binary (see
// compactTag). A string field is absent ("") when empty or left in the JSON tail; a
// time is absent when zero or left in the tail.
type compactFields struct {
	strs  [6]string // id, parent_id, task_tree_id, user_id, plugin, status
	ints  [3]int64  // priority, seq, attempts
	times [4]int64  // created_at, updated_at, started_at, completed_at: Unix µs
	has   uint8     // bit i: times[i] is set
	usage *task.Usage
}

// Kinds of a string in compactFields' binary form: one byte, then the string.
const (
	strAbsent = iota // nothing follows
	strUUID          // 16 bytes: a UUID in its canonical lowercase form
	strHex32         // 32 bytes: 64 lowercase hexadecimal digits (a sha256)
	strStatus        // 1 byte: an index into task.Statuses
	strBytes         // uvarint length, then the bytes
	strSame          // 1 byte: the index of an earlier string of the fields equal to it
)

// take moves the fields of t it can hold exactly into f and returns a shallow copy of t
// without them, whose wire form is the stored tail.
func (f *compactFields) take(t *task.Task) *task.Task {
	rest := *t
	for i, p := range strFields(&rest) {
		if utf8.ValidString(*p) {
			f.strs[i], *p = *p, ""
		}
	}
	f.ints = [3]int64{int64(t.Priority), int64(t.Seq), int64(t.Attempts)}
	rest.Priority, rest.Seq, rest.Attempts = 0, 0, 0
	for i, p := range timeFields(&rest) {
		if y := p.UTC().Year(); !p.IsZero() && y >= 0 && y <= 9999 {
			f.times[i], f.has = p.UnixMicro(), f.has|1<<i
			*p = time.Time{}
		}
	}
	if u := t.Usage; u != nil && !math.IsNaN(u.DurationMS) && !math.IsInf(u.DurationMS, 0) {
		f.usage, rest.Usage = u, nil
	}
	return &rest
}

// put sets the fields f holds on t, which was decoded from the tail.
func (f *compactFields) put(t *task.Task) {
	for i, p := range strFields(t) {
		if f.strs[i] != "" {
			*p = f.strs[i]
		}
	}
	t.Priority, t.Seq, t.Attempts = int(f.ints[0]), int(f.ints[1]), int(f.ints[2])
	for i, p := range timeFields(t) {
		if f.has&(1<<i) != 0 {
			*p = time.UnixMicro(f.times[i]).UTC()
		}
	}
	if f.usage != nil {
		t.Usage = f.usage
	}
}

// strFields are the string fields of t that compactFields holds, in its order.
func strFields(t *task.Task) [6]*string {
	return [6]*string{&t.ID, &t.ParentID, &t.TaskTreeID, &t.UserID, &t.Plugin, (*string)(&t.Status)}
}

// timeFields are the times of t that compactFields holds, in its order.
func timeFields(t *task.Task) [4]*time.Time {
	return [4]*time.Time{&t.CreatedAt, &t.UpdatedAt, &t.StartedAt, &t.CompletedAt}
}

// size bounds the length of f's binary form.
func (f *compactFields) size() int {
	n := 1 + len(f.ints)*binary.MaxVarintLen64 + 1 + len(f.times)*binary.MaxVarintLen64 + 1 + 8 + 6*binary.MaxVarintLen64
	for _, s := range f.strs {
		n += 1 + binary.MaxVarintLen64 + len(s)
	}
	return n
}

// append appends f's binary form to b: the strings (a kind, then its bytes), the
// integers (signed varints), a byte of which times are set and each set time (signed
// varints: created_at in Unix µs, the others as an offset from it), and the usage (0, or
// 1 followed by the duration's float64 bits, 8 bytes little-endian, and its counters as
// varints).
func (f *compactFields) append(b []byte) []byte {
	for i, s := range f.strs {
		b = appendCompactString(b, s, f.strs[:i])
	}
	for _, v := range f.ints {
		b = binary.AppendVarint(b, v)
	}
	b = append(b, f.has)
	var base int64
	for i, v := range f.times {
		if f.has&(1<<i) != 0 {
			b = binary.AppendVarint(b, v-base)
			if i == 0 {
				base = v
			}
		}
	}
	if f.usage == nil {
		return append(b, 0)
	}
	u := f.usage
	b = append(b, 1)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(u.DurationMS))
	b = binary.AppendUvarint(b, uint64(u.PeakMemoryPages))
	for _, v := range []int64{u.HostCalls, u.BytesIn, u.BytesOut, u.LLMInputTokens, u.LLMOutputTokens} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

// errCompactFields is the error of a stored value whose binary fields are cut short or
// malformed.
var errCompactFields = errors.New("malformed binary fields")

// read decodes f from the start of b and returns the rest of b (the tail).
func (f *compactFields) read(b []byte) ([]byte, error) {
	r := compactReader{b: b}
	for i := range f.strs {
		f.strs[i] = r.str(f.strs[:i])
	}
	for i := range f.ints {
		f.ints[i] = r.varint()
	}
	f.has = r.byte()
	var base int64
	for i := range f.times {
		if f.has&(1<<i) != 0 {
			f.times[i] = base + r.varint()
			if i == 0 {
				base = f.times[i]
			}
		}
	}
	if r.byte() == 1 {
		u := &task.Usage{DurationMS: math.Float64frombits(r.uint64()), PeakMemoryPages: uint32(r.uvarint())}
		for _, p := range []*int64{&u.HostCalls, &u.BytesIn, &u.BytesOut, &u.LLMInputTokens, &u.LLMOutputTokens} {
			*p = r.varint()
		}
		f.usage = u
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.b, nil
}

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
	for i, st := range task.Statuses {
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

// compactReader reads compactFields' binary form; the first error sticks and every later
// read returns zero.
type compactReader struct {
	b   []byte
	err error
}

func (r *compactReader) fail() {
	if r.err == nil {
		r.err = errCompactFields
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
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *compactReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
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
		if i := int(r.byte()); i < len(task.Statuses) {
			return string(task.Statuses[i])
		}
	case strBytes:
		n := r.uvarint()
		if n <= uint64(len(r.b)) && utf8.Valid(r.b[:n]) { // the encoder leaves invalid UTF-8 in the tail
			return string(r.bytes(int(n)))
		}
	}
	r.fail()
	return ""
}
