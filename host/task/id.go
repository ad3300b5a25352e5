package task

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// NewID returns a new time-ordered UUID (version 7, RFC 9562) in its canonical lower-case
// form: the id of every task the host creates. Its first 48 bits are the Unix time in
// milliseconds, the 12 after the version the fraction of that millisecond in steps of
// 1/4096 (about 244 ns), the 62 after the variant random.
//
// Ids made in a later step of the clock sort after ids made earlier (by their text as by
// their bytes), unless the clock steps back; ids made in the same step, or the same tick
// of a coarser clock, are ordered at random. Two ids are equal only if they fall in the
// same step and draw the same 62 random bits (a store refuses a task id it already holds
// anyway). Why time-ordered: a store keeps a task, its log lines and its dependents'
// entries under keys that begin with the task's id, so with random ids every batch of
// writes lands all over the key space and the storage engine's compactions rewrite most
// of what it holds each time; with ids in creation order, the keys of a tree are written,
// updated and compacted near each other (docs/decisions.md §5, docs/performance.md,
// tenth pass). The id then shows when the task was created.
func NewID() string {
	return newID(time.Now())
}

// newID returns the version 7 UUID of now with fresh random bits.
func newID(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[8:]) // crypto/rand.Read never fails (it aborts the program instead)
	ms := uint64(now.UnixMilli())
	frac := uint64(now.Nanosecond()%int(time.Millisecond)) << 12 / uint64(time.Millisecond)
	binary.BigEndian.PutUint64(b[:8], ms<<16|0x7000|frac)
	b[8] = b[8]&0x3f | 0x80
	return UUIDString(b)
}

// UUIDString returns the UUID of bytes b in its canonical lower-case form, as NewID
// gives it: 8-4-4-4-12 hexadecimal digits.
func UUIDString(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
