package badgerstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apflow-wasm/apflow/host/task"
)

// Key prefixes. Every key starts with one prefix byte; see the key layout in doc.go.
const (
	prefixTask      byte = 't' // t <id>                                   → task (value.go)
	prefixAll       byte = 'a' // a <created desc> <seq desc> <id>          → header without status
	prefixRoot      byte = 'r' // r <created desc> <seq desc> <id>          → header without status (roots only)
	prefixStatus    byte = 's' // s <status> <created desc> <seq desc> <id> → header
	prefixUser      byte = 'u' // u <user> <created desc> <seq desc> <id>   → header (user set)
	prefixTree      byte = 'g' // g <tree> <seq asc> <id>                   → header (tree set)
	prefixParent    byte = 'p' // p <parent> <priority asc> <seq asc> <id>  → header without status (non-roots)
	prefixDependent byte = 'd' // d <dependency id> <dependent id>          → header without status
	prefixCreate    byte = 'x' // x <create> <chunk asc>                    → keys of a chunk of a Create in progress
	prefixUndo      byte = 'y' // y <write> <chunk asc>                     → previous values of a chunk of a big write in progress
	prefixIdemKey   byte = 'k' // k <scope> <key>                           → idempotency key record, JSON
	prefixKV        byte = 'V' // V <scope> <plugin> <key>                  → kv entry: expiry µs (8 bytes), value
	prefixKVUsage   byte = 'W' // W <scope> <plugin>                        → kv usage: bytes, keys (8 bytes each)
)

// appendString appends s so that the encoding is unambiguous, preserves the byte order of
// strings, and never is a prefix of the encoding of another string: 0x00 is escaped as
// 0x00 0xFF and the string ends with 0x00 0x01.
func appendString(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, 0)
		if i < 0 {
			break
		}
		b = append(append(b, s[:i]...), 0, 0xFF)
		s = s[i+1:]
	}
	return append(append(b, s...), 0, 1)
}

// readString decodes a string written by appendString from the start of b and returns it
// with the rest of b.
func readString(b []byte) (string, []byte, error) {
	var out []byte // nil until the first escaped NUL byte
	for {
		i := bytes.IndexByte(b, 0)
		switch {
		case i < 0:
			return "", nil, errors.New("unterminated string in key")
		case i+1 >= len(b):
			return "", nil, errors.New("truncated string in key")
		}
		switch b[i+1] {
		case 0xFF:
			out = append(append(out, b[:i]...), 0)
			b = b[i+2:]
		case 1:
			if out == nil {
				return string(b[:i]), b[i+2:], nil
			}
			return string(append(out, b[:i]...)), b[i+2:], nil
		default:
			return "", nil, fmt.Errorf("bad escape 0x00 0x%02x in key", b[i+1])
		}
	}
}

// appendAsc appends v so that byte order equals numeric order.
func appendAsc(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v)^(1<<63))
}

// appendDesc appends v so that byte order is the reverse of numeric order.
func appendDesc(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, ^(uint64(v) ^ (1 << 63)))
}

func taskKey(id string) []byte { return appendString(newKey(prefixTask, len(id)+2), id) }

// newKey returns a key holding prefix, with room for n more bytes: a key's strings take
// their length and 2 (appendString; one more for each NUL byte in them), its numbers 8,
// and sized up front a key is one allocation.
func newKey(prefix byte, n int) []byte {
	k := make([]byte, 1, 1+n)
	k[0] = prefix
	return k
}

// header is the value of every index entry: what List and Count need to filter and order
// without decoding the task.
type header struct {
	ID      string
	Created int64 // created_at in Unix microseconds, the precision stored
	Seq     int64
	// Status is the task's status in the entries of the status, tree, user and schedule
	// indexes, and empty in the others (see indexEntries). Entries of the others written
	// before that rule may still carry a status, no longer kept current: it is never
	// read (statusIndexed).
	Status   task.Status
	UserID   string
	TreeID   string
	ParentID string
	// Name and Method (the task's executor, task.Task.Method) let a search match without
	// decoding the task; Named is false for entries written before they were added, whose
	// tasks a search decodes.
	Name, Method string
	Named        bool
}

func headerOf(t *task.Task) header {
	var created int64
	if !t.CreatedAt.IsZero() {
		created = t.CreatedAt.UnixMicro()
	}
	return header{ID: t.ID, Created: created, Seq: int64(t.Seq), Status: t.Status,
		UserID: t.UserID, TreeID: t.TaskTreeID, ParentID: t.ParentID, Name: t.Name, Method: t.Method(), Named: true}
}

// headerTag starts a header in the compact form (encode). Headers written by earlier
// versions start with created_at (the time of submission) as 8 bytes of appendAsc, whose
// first byte is 0x7F or 0x80-0x83 for any time in the years 0-9999; only a created_at
// near the year -288,000, which apflow never wrote, would start with the tag.
const headerTag = 0x01

// encode returns the header's stored form: headerTag, created_at and seq as signed
// varints, then the strings (id, status, user, tree, parent, name, executor) as in a
// task's compact fields (appendCompactString: a UUID in 17 bytes, a repeated one in 2).
// An entry of a small task takes about 65 bytes, against 160 in the earlier form, and
// every status change rewrites two or three of them.
func (h header) encode() []byte {
	b, _, _ := h.appendTo(make([]byte, 0, h.encodedCap()))
	return b
}

// encodedCap is room enough for most encodings of h.
func (h header) encodedCap() int { return 24 + len(h.Name) + len(h.Method) + 5*18 }

// appendTo appends h's encoding to b and returns it with the offsets of its status
// string in it: b[from:to].
func (h header) appendTo(b []byte) (out []byte, from, to int) {
	strs := [...]string{h.ID, string(h.Status), h.UserID, h.TreeID, h.ParentID, h.Name, h.Method}
	b = append(b, headerTag)
	b = binary.AppendVarint(b, h.Created)
	b = binary.AppendVarint(b, h.Seq)
	b = appendCompactString(b, strs[0], nil)
	from = len(b)
	b = appendCompactString(b, strs[1], strs[:1])
	to = len(b)
	for i := 2; i < len(strs); i++ {
		b = appendCompactString(b, strs[i], strs[:i])
	}
	return b, from, to
}

// encodePair returns h.encode() and the encoding of h without its status, as encode
// would return it, reading h's strings once: the second is the first with its status
// string replaced by the absent one, unless a later string repeats the status, which
// the first then encodes as a reference to it.
func (h header) encodePair() (withStatus, without []byte) {
	withStatus, from, to := h.appendTo(make([]byte, 0, h.encodedCap()))
	st := string(h.Status)
	if st != "" && (h.UserID == st || h.TreeID == st || h.ParentID == st || h.Name == st || h.Method == st) {
		h.Status = ""
		return withStatus, h.encode()
	}
	without = make([]byte, 0, len(withStatus)-(to-from)+1)
	without = append(append(append(without, withStatus[:from]...), strAbsent), withStatus[to:]...)
	return withStatus, without
}

func decodeHeader(b []byte) (header, error) {
	if len(b) > 0 && b[0] == headerTag {
		return decodeCompactHeader(b[1:])
	}
	var h header
	if len(b) < 16 {
		return h, errors.New("index entry too short")
	}
	h.Created = int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	h.Seq = int64(binary.BigEndian.Uint64(b[8:]) ^ (1 << 63))
	rest := b[16:]
	var status string
	for _, dst := range []*string{&h.ID, &status, &h.UserID, &h.TreeID, &h.ParentID} {
		var err error
		if *dst, rest, err = readString(rest); err != nil {
			return h, err
		}
	}
	h.Status = task.Status(status)
	if len(rest) > 0 { // written with the name and the executor
		for _, dst := range []*string{&h.Name, &h.Method} {
			var err error
			if *dst, rest, err = readString(rest); err != nil {
				return h, err
			}
		}
		h.Named = true
	}
	return h, nil
}

// decodeCompactHeader decodes what follows headerTag (see encode).
func decodeCompactHeader(b []byte) (header, error) {
	r := compactReader{b: b}
	h := header{Created: r.varint(), Seq: r.varint(), Named: true}
	var strs [7]string
	for i := range strs {
		strs[i] = r.str(strs[:i])
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errMalformed
	}
	if r.err != nil {
		return header{}, fmt.Errorf("index entry: %w", r.err)
	}
	h.ID, h.Status, h.UserID, h.TreeID, h.ParentID, h.Name, h.Method =
		strs[0], task.Status(strs[1]), strs[2], strs[3], strs[4], strs[5], strs[6]
	return h, nil
}

// indexEntry is one entry of a task in an index: its key, and its value (the task's
// encoded header, with or without the status).
type indexEntry struct {
	key, value []byte
}

// indexEntries returns every index entry of t, sorted by key, each key once. The key set
// depends only on fields that survive the JSON round trip unchanged, so the entries
// computed from a task before storing equal those computed from the task read back.
// Sorted, two tasks' entries compare in one pass (appendDiff); a task has a handful of
// them, and one more per dependency (100,000 more for an aggregator of 100,000 tasks).
//
// Only the entries of the indexes a status filter is combined with carry the status
// (statusIndexed): status, tree, user and the schedule indexes. A status change (twice
// or more per task in every run) then rewrites the task, moves its status entry and
// rewrites its tree entry (and user entry, if any), and leaves the others (every task,
// roots, parent, dependents) as they are: with the status in all of them it rewrote
// about twice as many entries, which the LSM tree then flushed and compacted.
func indexEntries(t *task.Task) []indexEntry { return indexEntriesOf(t, true) }

// changeEntries returns the index entries of old and next, one task before and after a
// change, for appendDiff: indexEntries of each or, when the change leaves the dependents
// entries as they are (the same dependency ids in the same order, and the same header
// without status, which is their value: a status change), both without those, which
// would compare equal. An aggregator of 1,000 tasks then changes status without building,
// sorting and comparing 2,000 entries.
func changeEntries(old, next *task.Task) (oldEntries, nextEntries []indexEntry) {
	sameDependents := len(old.Dependencies) > 0 && slices.EqualFunc(old.Dependencies, next.Dependencies,
		func(a, b task.Dependency) bool { return a.ID == b.ID })
	if sameDependents {
		ho, hn := headerOf(old), headerOf(next)
		ho.Status, hn.Status = "", ""
		sameDependents = ho == hn
	}
	return indexEntriesOf(old, !sameDependents), indexEntriesOf(next, !sameDependents)
}

// indexEntriesOf is indexEntries, without the dependents entries unless withDependents.
func indexEntriesOf(t *task.Task, withDependents bool) []indexEntry {
	h := headerOf(t)
	withStatus, v := h.encodePair()
	h.Status = ""
	n := 7 // at most 7 besides the dependents
	if withDependents {
		n += len(t.Dependencies)
	}
	es := make([]indexEntry, 0, n)
	es = append(es, indexEntry{orderedKey(prefixAll, h), v}, indexEntry{statusKey(t.Status, h), withStatus})
	if t.ParentID == "" {
		es = append(es, indexEntry{orderedKey(prefixRoot, h), v})
	} else {
		k := appendString(newKey(prefixParent, len(t.ParentID)+len(t.ID)+20), t.ParentID)
		k = appendAsc(k, int64(t.Priority))
		k = appendAsc(k, h.Seq)
		es = append(es, indexEntry{appendString(k, t.ID), v})
	}
	if t.UserID != "" {
		es = append(es, indexEntry{orderedKey(prefixUser, h, t.UserID), withStatus})
	}
	if tree := t.TaskTreeID; tree != "" {
		k := appendString(newKey(prefixTree, len(tree)+len(t.ID)+12), tree)
		k = appendAsc(k, h.Seq)
		es = append(es, indexEntry{appendString(k, t.ID), withStatus})
	}
	// A status change of a task with many dependencies (an aggregator of 100,000
	// tasks) rewrites none of its dependents entries.
	if withDependents {
		for _, d := range t.Dependencies {
			k := appendString(newKey(prefixDependent, len(d.ID)+len(t.ID)+4), d.ID)
			es = append(es, indexEntry{appendString(k, t.ID), v})
		}
	}
	es = appendScheduleEntries(es, t, withStatus)
	slices.SortFunc(es, compareEntries)
	// A dependency listed twice has one entry.
	return slices.CompactFunc(es, func(a, b indexEntry) bool { return bytes.Equal(a.key, b.key) })
}

func compareEntries(a, b indexEntry) int { return bytes.Compare(a.key, b.key) }

// orderedKey returns the key of h's entry in an index in List's order (newest first):
// prefix, the scope strings, created_at and seq descending, the id.
func orderedKey(prefix byte, h header, scope ...string) []byte {
	n := 16 + len(h.ID) + 2
	for _, s := range scope {
		n += len(s) + 2
	}
	k := newKey(prefix, n)
	for _, s := range scope {
		k = appendString(k, s)
	}
	k = appendDesc(k, h.Created)
	k = appendDesc(k, h.Seq)
	return appendString(k, h.ID)
}

// statusIndexed reports whether the entries of the index with this prefix carry the
// status, kept current: those a status filter is combined with (a tree's tasks by
// status, a user's), so that such a filter reads the status from the entry. A status
// filter over another index looks up each candidate's status entry (hasStatus).
func statusIndexed(prefix byte) bool {
	return prefix == prefixStatus || prefix == prefixTree || prefix == prefixUser
}

// statusKey returns the key of the status entry that task h has while its status is st.
func statusKey(st task.Status, h header) []byte {
	return orderedKey(prefixStatus, h, string(st))
}

// scopePrefix returns the key prefix of all entries of an index for one scope value
// (a status, user, tree, parent or dependency id), or of the whole index when scope is
// empty.
func scopePrefix(prefix byte, scope ...string) []byte {
	k := []byte{prefix}
	for _, s := range scope {
		k = appendString(k, s)
	}
	return k
}
