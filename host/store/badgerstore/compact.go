package badgerstore

import (
	"encoding/binary"
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

// take moves the fields of t it can hold exactly into f and sets rest to a shallow copy
// of t without them, whose wire form is the stored tail. rest is the caller's, so that
// the copy (a task.Task, 600 bytes) need not be allocated for every task encoded.
func (f *compactFields) take(t, rest *task.Task) {
	*rest = *t
	for i, p := range strFields(rest) {
		if utf8.ValidString(*p) {
			f.strs[i], *p = *p, ""
		}
	}
	f.ints = [3]int64{int64(t.Priority), int64(t.Seq), int64(t.Attempts)}
	rest.Priority, rest.Seq, rest.Attempts = 0, 0, 0
	for i, p := range timeFields(rest) {
		if !p.IsZero() && inWireRange(*p) {
			f.times[i], f.has = p.UnixMicro(), f.has|1<<i
			*p = time.Time{}
		}
	}
	if u := t.Usage; u != nil && !math.IsNaN(u.DurationMS) && !math.IsInf(u.DurationMS, 0) {
		f.usage, rest.Usage = u, nil
	}
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

// inWireRange reports whether t lies in the years 0 to 9999, the times the wire form's
// four-digit years hold: the only times the binary form holds (their Unix microseconds
// fit an int64), so that a value decoded from it encodes and decodes again.
func inWireRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// strFields are the string fields of t that compactFields holds, in its order.
func strFields(t *task.Task) [6]*string {
	return [6]*string{&t.ID, &t.ParentID, &t.TaskTreeID, &t.UserID, &t.Plugin, (*string)(&t.Status)}
}

// timeFields are the times of t that compactFields holds, in its order.
func timeFields(t *task.Task) [4]*time.Time {
	return [4]*time.Time{&t.CreatedAt, &t.UpdatedAt, &t.StartedAt, &t.CompletedAt}
}

// append appends f's binary form to b: the strings (appendCompactString), the integers
// (signed varints), a byte of which times are set and each set time (signed varints of
// Unix µs: created_at, then the others as an offset from it, or absolute when it is not
// set), and the usage (0, or 1 followed by the duration's float64 bits, 8 bytes
// little-endian, and its counters as varints).
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

// read decodes f from the start of b and returns the rest of b (the tail).
func (f *compactFields) read(b []byte) ([]byte, error) {
	r := compactReader{b: b}
	for i := range f.strs {
		// The encoder leaves a string that is not valid UTF-8 in the tail.
		if f.strs[i] = r.str(f.strs[:i]); !utf8.ValidString(f.strs[i]) {
			r.fail()
		}
	}
	for i := range f.ints {
		f.ints[i] = r.varint()
	}
	if f.has = r.byte(); f.has&^(1<<len(f.times)-1) != 0 {
		r.fail()
	}
	var base int64
	for i := range f.times {
		if f.has&(1<<i) != 0 {
			f.times[i] = base + r.varint()
			if i == 0 {
				base = f.times[i]
			}
			if !inWireRange(time.UnixMicro(f.times[i])) { // never written: damage
				r.fail()
			}
		}
	}
	switch r.byte() {
	case 0:
	case 1:
		u := &task.Usage{DurationMS: math.Float64frombits(r.uint64()), PeakMemoryPages: uint32(r.uvarint())}
		for _, p := range []*int64{&u.HostCalls, &u.BytesIn, &u.BytesOut, &u.LLMInputTokens, &u.LLMOutputTokens} {
			*p = r.varint()
		}
		f.usage = u
	default:
		r.fail()
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.b, nil
}
