package badgerstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestStatusChangeWrites: a status change writes the task, moves its status entry and
// rewrites its entries in the other indexes that carry the status (tree, user), and
// nothing else, whatever indexes the task is in.
func TestStatusChangeWrites(t *testing.T) {
	t.Parallel()
	child := mk("c", "root", 2)
	child.UserID = "alice"
	child.Dependencies = []task.Dependency{{ID: "b", Required: true}}
	aggregator := mk("agg", "root", 3)
	for i := range 1000 {
		aggregator.Dependencies = append(aggregator.Dependencies, task.Dependency{ID: fmt.Sprintf("w%d", i)})
	}
	now := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		task *task.Task
		want []string
	}{
		{"a root", mk("root", "", 1), []string{"g del=false", "s del=false", "s del=true", "t del=false"}},
		{"a child with a user and a dependency", child, []string{"g del=false", "s del=false", "s del=true", "t del=false", "u del=false"}},
		{"an aggregator of 1,000", aggregator, []string{"g del=false", "s del=false", "s del=true", "t del=false"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, step := range []func(*task.Task) error{
				func(x *task.Task) error { return x.Start(now) },
				func(x *task.Task) error { return x.Complete(map[string]any{"ok": true}, now) },
			} {
				next := c.task.Clone()
				if err := step(next); err != nil {
					t.Fatal(err)
				}
				enc, err := encode(next)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, w := range appendDiff(nil, indexEntries(c.task), enc) {
					got = append(got, fmt.Sprintf("%c del=%v", w.key[0], w.del))
				}
				slices.Sort(got)
				if !slices.Equal(got, c.want) {
					t.Fatalf("%s → %s writes %v, want %v", c.task.Status, next.Status, got, c.want)
				}
				c.task = next
			}
		})
	}
}

// TestDiff: the writes between two states of a task are the task and exactly the index
// entries that were added, removed or changed, each once.
func TestDiff(t *testing.T) {
	t.Parallel()
	deps := func(ids ...string) func(*task.Task) {
		return func(x *task.Task) {
			for _, id := range ids {
				x.Dependencies = append(x.Dependencies, task.Dependency{ID: id, Required: true})
			}
		}
	}
	asMade := func(*task.Task) {}
	for _, c := range []struct {
		name     string
		old, new func(*task.Task) // each changes the task mk makes; a nil old: none stored
		want     []string         // first byte of each key and whether it is a delete, sorted
	}{
		{"created: every entry", nil, deps("b"), []string{"a del=false", "d del=false", "g del=false", "p del=false", "s del=false"}},
		{"nothing changed", deps("b"), deps("b"), nil},
		{"a dependency added", deps("b"), deps("b", "e"), []string{"d del=false"}},
		{"a dependency removed", deps("b", "e"), deps("e"), []string{"d del=true"}},
		{"a dependency listed twice has one entry", asMade, deps("b", "b"), []string{"d del=false"}},
		{"every dependency replaced", deps("b", "e"), deps("f", "h", "j"),
			[]string{"d del=false", "d del=false", "d del=false", "d del=true", "d del=true"}},
		{"renamed: the headers change, no key does", asMade, func(x *task.Task) { x.Name = "renamed" },
			[]string{"a del=false", "g del=false", "p del=false", "s del=false"}},
		{"a user set: its entry, and every header names the user", asMade, func(x *task.Task) { x.UserID = "alice" },
			[]string{"a del=false", "g del=false", "p del=false", "s del=false", "u del=false"}},
		{"a user removed", func(x *task.Task) { x.UserID = "alice" }, asMade,
			[]string{"a del=false", "g del=false", "p del=false", "s del=false", "u del=true"}},
		{"a schedule armed: its due and scheduled entries, no header changes", asMade, func(x *task.Task) {
			x.ScheduleType, x.ScheduleEnabled, x.NextRunAt = "interval", true, time.Unix(60, 0)
		}, []string{"c del=false", "n del=false"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			build := func(f func(*task.Task)) *task.Task {
				x := mk("c", "root", 2)
				f(x)
				return x
			}
			enc, err := encode(build(c.new))
			if err != nil {
				t.Fatal(err)
			}
			var old []indexEntry
			if c.old != nil {
				old = indexEntries(build(c.old))
			}
			ws := appendDiff(nil, old, enc)
			if ws[0].del || string(ws[0].key) != string(taskKey("c")) {
				t.Fatalf("first write %q del=%v, want the task", ws[0].key, ws[0].del)
			}
			var got []string
			for _, w := range ws[1:] {
				got = append(got, fmt.Sprintf("%c del=%v", w.key[0], w.del))
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Fatalf("writes %v, want %v", got, c.want)
			}
			checkDiff(t, old, enc.entries, ws)
		})
	}
}

// TestDiffOfRandomTasks compares appendDiff with the writes that sets of keys give, over
// random pairs of tasks (ids with NUL bytes, repeated dependencies, users, parents, trees
// and schedules present or not, either side without entries).
func TestDiffOfRandomTasks(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	ids := []string{"", "a", "b", "a\x00", "zz", "\x00", "b\x00x", "pending", "completed"} // statuses too: encodePair
	pick := func() string { return ids[r.IntN(len(ids))] }
	random := func() *task.Task {
		x := mk("c"+pick(), pick(), r.IntN(3))
		x.TaskTreeID, x.UserID, x.Name = pick(), pick(), pick()
		x.Priority = r.IntN(4)
		x.Status = task.Statuses[r.IntN(len(task.Statuses))]
		for range r.IntN(6) {
			x.Dependencies = append(x.Dependencies, task.Dependency{ID: pick(), Required: true})
		}
		if r.IntN(2) == 0 {
			x.ScheduleType, x.ScheduleEnabled = "interval", r.IntN(2) == 0
			if r.IntN(2) == 0 {
				x.NextRunAt = time.Unix(int64(r.IntN(3)), 0)
			}
		}
		return x
	}
	for range 20_000 {
		a, b := random(), random()
		var old, next []indexEntry
		if r.IntN(10) > 0 {
			old = indexEntries(a)
		}
		if r.IntN(20) > 0 {
			next = indexEntries(b)
		}
		checkDiff(t, old, next, appendDiff(nil, old, encoded{id: b.ID, value: []byte("v"), entries: next}))
		if t.Failed() {
			t.Fatalf("from %+v to %+v", a, b)
		}
		// changeEntries gives the writes that every entry gives: from a to b, and to a copy
		// of a with another status, and maybe another name or dependency.
		c := a.Clone()
		c.Status = task.Statuses[r.IntN(len(task.Statuses))]
		if r.IntN(4) == 0 {
			c.Name = pick()
		}
		if r.IntN(4) == 0 && len(c.Dependencies) > 0 {
			c.Dependencies[r.IntN(len(c.Dependencies))].ID = pick()
		}
		for _, next := range []*task.Task{b, c} {
			checkChangeEntries(t, a, next)
			if t.Failed() {
				t.Fatalf("from %+v to %+v", a, next)
			}
		}
	}
}

// checkChangeEntries checks that changeEntries gives the writes from old to next that
// every entry gives.
func checkChangeEntries(t *testing.T, old, next *task.Task) {
	t.Helper()
	full := appendDiff(nil, indexEntries(old), encoded{id: next.ID, value: []byte("v"), entries: indexEntries(next)})
	o, n := changeEntries(old, next)
	if got := appendDiff(nil, o, encoded{id: next.ID, value: []byte("v"), entries: n}); !sameWrites(got, full) {
		t.Errorf("changeEntries gives %d writes, every entry %d", len(got), len(full))
	}
}

// sameWrites reports whether a and b hold the same writes, in any order.
func sameWrites(a, b []write) bool {
	key := func(w write) string { return fmt.Sprintf("%q %v %q", w.key, w.del, w.value) }
	as, bs := make([]string, len(a)), make([]string, len(b))
	for i, w := range a {
		as[i] = key(w)
	}
	for i, w := range b {
		bs[i] = key(w)
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}

// TestChangeEntries: a change that keeps a task's dependencies and its header without
// status (a status change) leaves its dependents entries out of both sides; any other
// change of a task with dependencies keeps them in.
func TestChangeEntries(t *testing.T) {
	t.Parallel()
	agg := mk("agg", "root", 3)
	for i := range 1000 {
		agg.Dependencies = append(agg.Dependencies, task.Dependency{ID: fmt.Sprintf("w%d", i)})
	}
	now := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		change     func(*task.Task)
		dependents bool // the entries hold the dependents entries
	}{
		{"started", func(x *task.Task) {
			if err := x.Start(now); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"inputs and result set", func(x *task.Task) { x.Inputs = map[string]any{"a": 1}; x.Result = 2 }, false},
		{"renamed", func(x *task.Task) { x.Name = "other" }, true},
		{"executor changed", func(x *task.Task) { x.Schemas = map[string]any{"method": "other"} }, true},
		{"a dependency replaced", func(x *task.Task) { x.Dependencies[7].ID = "new" }, true},
		{"a dependency dropped", func(x *task.Task) { x.Dependencies = x.Dependencies[1:] }, true},
		{"a dependency made optional: the same entries", func(x *task.Task) { x.Dependencies[0].Required = !x.Dependencies[0].Required }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			next := agg.Clone()
			tc.change(next)
			o, n := changeEntries(agg, next)
			for _, es := range [][]indexEntry{o, n} {
				has := slices.ContainsFunc(es, func(e indexEntry) bool { return e.key[0] == prefixDependent })
				if has != tc.dependents {
					t.Errorf("entries hold dependents entries: %v, want %v", has, tc.dependents)
				}
			}
			checkChangeEntries(t, agg, next)
		})
	}
	if o, _ := changeEntries(mk("leaf", "root", 1), mk("leaf", "root", 1)); len(o) == 0 {
		t.Error("a task without dependencies has no entries")
	}
}

// checkDiff checks ws, the writes of appendDiff from old to next: each list sorted with
// each key once, and after the task, exactly the deletes of keys of old that next has not
// and the sets of the entries of next that old has not or with another value.
func checkDiff(t *testing.T, old, next []indexEntry, ws []write) {
	t.Helper()
	oldValues, want := map[string][]byte{}, map[string]write{}
	for _, es := range [][]indexEntry{old, next} {
		if !slices.IsSortedFunc(es, compareEntries) {
			t.Errorf("entries not sorted: %q", es)
		}
	}
	for i, e := range old {
		if i > 0 && bytes.Equal(old[i-1].key, e.key) {
			t.Errorf("key %q twice", e.key)
		}
		oldValues[string(e.key)] = e.value
		want[string(e.key)] = write{key: e.key, del: true}
	}
	for _, e := range next {
		if v, ok := oldValues[string(e.key)]; ok && bytes.Equal(v, e.value) {
			delete(want, string(e.key))
			continue
		}
		want[string(e.key)] = write{key: e.key, value: e.value}
	}
	if len(ws)-1 != len(want) {
		t.Errorf("%d index writes, want %d", len(ws)-1, len(want))
	}
	for _, w := range ws[1:] {
		x, ok := want[string(w.key)]
		if !ok || x.del != w.del || !bytes.Equal(x.value, w.value) {
			t.Errorf("write %q (del=%v) not expected", w.key, w.del)
		}
		delete(want, string(w.key))
	}
}

// TestStatusFilterOnEarlierEntries: entries written when every index entry carried the
// status keep the status of that time, since a status change no longer rewrites them; a
// status filter over another index still answers from the status index.
func TestStatusFilterOnEarlierEntries(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{})
	ctx := t.Context()
	if err := s.Create(ctx, []*task.Task{mk("root", "", 1), mk("a", "root", 2), mk("b", "root", 3)}); err != nil {
		t.Fatal(err)
	}
	// Rewrite a's entries as the earlier format stored them, status included.
	withStatus := earlierHeader(headerOf(mk("a", "root", 2)))
	err := s.db.Update(func(txn *badger.Txn) error {
		for _, e := range indexEntries(mk("a", "root", 2)) {
			if err := txn.Set(e.key, withStatus); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "a", func(x *task.Task) error { return x.Start(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    store.Filter
		want []string
	}{
		{store.Filter{TreeID: "tree", Status: task.Pending}, []string{"b", "root"}},
		{store.Filter{TreeID: "tree", Status: task.InProgress}, []string{"a"}},
		{store.Filter{ParentID: "root", Status: task.Pending}, []string{"b"}},
		{store.Filter{ParentID: "root", Status: task.InProgress}, []string{"a"}},
		{store.Filter{Status: task.InProgress}, []string{"a"}},
		{store.Filter{Status: task.InProgress, RootOnly: true}, nil},
	} {
		page, total, err := s.List(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, x := range page {
			got = append(got, x.ID)
		}
		if !slices.Equal(got, c.want) || total != len(c.want) {
			t.Errorf("List(%+v) = %v (total %d), want %v", c.f, got, total, c.want)
		}
	}
}

// earlierHeader returns h in the form earlier versions wrote: created_at and seq as 8
// bytes each (appendAsc), then the strings as in keys (appendString).
func earlierHeader(h header) []byte {
	b := appendAsc(appendAsc(nil, h.Created), h.Seq)
	for _, s := range []string{h.ID, string(h.Status), h.UserID, h.TreeID, h.ParentID, h.Name, h.Method} {
		b = appendString(b, s)
	}
	return b
}

// headerCase is a header of the header tests: typicalHeader changed by mod.
type headerCase struct {
	name string
	mod  func(*header)
}

// typicalHeader is the header of a small child task.
func typicalHeader() header {
	return header{ID: "1b6f6a57-6f0e-4b8e-9d3c-1f5f7a3c2e11", Created: time.Now().UnixMicro(), Seq: 17,
		Status: task.Completed, TreeID: testRootID, ParentID: testRootID, Name: "child-17", Method: "echo", Named: true}
}

const testRootID = "0b6f6a57-6f0e-4b8e-9d3c-1f5f7a3c2e11"

// headerCases are the headers every encoding of headers is checked on.
var headerCases = []headerCase{
	{"typical", func(*header) {}},
	{"root", func(h *header) { h.ID, h.TreeID, h.ParentID = testRootID, testRootID, "" }},
	{"no status", func(h *header) { h.Status = "" }},
	{"user", func(h *header) { h.UserID = "alice" }},
	{"plain ids", func(h *header) { h.ID, h.TreeID, h.ParentID = "a\x00b", "t", "t" }},
	{"invalid UTF-8 name and ids", func(h *header) { h.Name, h.ID, h.UserID = "\xff", "\xfe", "u\xc3" }},
	{"unknown status", func(h *header) { h.Status = "paused" }},
	{"zero created_at", func(h *header) { h.Created = 0 }},
	{"year 0", func(h *header) { h.Created = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() }},
	{"negative seq", func(h *header) { h.Seq = -1 << 40 }},
	{"year 10000", func(h *header) { h.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() }},
	{"extreme created_at", func(h *header) { h.Created, h.Seq = -1<<63, 1<<63-1 }},
}

// TestHeaderRoundTrip: every header decodes to itself, and so does its earlier form; the
// compact form of a small task's entry is well under half the earlier one.
func TestHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	for _, c := range headerCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := typicalHeader()
			c.mod(&h)
			b := h.encode()
			if got, err := decodeHeader(b); err != nil || got != h {
				t.Fatalf("decodeHeader(%q) = %+v, %v; want %+v", b, got, err, h)
			}
			earlier := earlierHeader(h)
			if y := time.UnixMicro(h.Created).UTC().Year(); y >= 0 && y <= 9999 {
				if got, err := decodeHeader(earlier); err != nil || got != h {
					t.Fatalf("earlier form: decodeHeader(%q) = %+v, %v; want %+v", earlier, got, err, h)
				}
			}
			if c.name == "typical" && len(b)*2 > len(earlier) {
				t.Fatalf("compact header %d bytes, earlier form %d", len(b), len(earlier))
			}
		})
	}
}

// TestEncodePair: encodePair gives what encode gives for the header and for the header
// without its status, also when a later string repeats the status (the first encoding
// then refers to it) or an id.
func TestEncodePair(t *testing.T) {
	t.Parallel()
	cases := append(slices.Clone(headerCases),
		headerCase{"name repeats the status", func(h *header) { h.Name = string(h.Status) }},
		headerCase{"executor repeats the status", func(h *header) { h.Method = string(h.Status) }},
		headerCase{"user and tree repeat the status", func(h *header) { h.UserID, h.TreeID = string(h.Status), string(h.Status) }},
		headerCase{"status repeats the id", func(h *header) { h.ID, h.Name, h.Status = "pending", "pending", task.Pending }})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := typicalHeader()
			c.mod(&h)
			with, without := h.encodePair()
			want := h.encode()
			h.Status = ""
			if wantWithout := h.encode(); !bytes.Equal(with, want) || !bytes.Equal(without, wantWithout) {
				t.Fatalf("encodePair = %q, %q; want %q, %q", with, without, want, wantWithout)
			}
		})
	}
}

// TestStoredFormat pins the bytes of a task's stored value and of an index entry's header:
// they are on disk, and a change of field order, kind or offset must be a new format that
// still reads these.
func TestStoredFormat(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 12, 4, 1, 2, 3, 456789000, time.UTC)
	x := &task.Task{ID: "0b6f6a57-6f0e-4b8e-9d3c-1f5f7a3c2e11", ParentID: "1b6f6a57-6f0e-4b8e-9d3c-1f5f7a3c2e11",
		TaskTreeID: "1b6f6a57-6f0e-4b8e-9d3c-1f5f7a3c2e11", Name: "c", Status: task.Completed, Priority: 2, Seq: 3,
		Attempts: 1, Plugin: strings.Repeat("ab", 32), Inputs: map[string]any{"i": json.Number("1")},
		Dependencies: []task.Dependency{}, Result: json.Number("1"), CreatedAt: created,
		UpdatedAt: created.Add(time.Second), CompletedAt: created.Add(time.Second),
		Usage: &task.Usage{DurationMS: 0.5, BytesIn: 7}}
	const wantValue = "01010b6f6a576f0e4b8e9d3c1f5f7a3c2e11011b6f6a576f0e4b8e9d3c1f5f7a3c2e11050100" +
		"02abababababababababababababababababababababababababababababababab0302" +
		"0406020b" + "aac4a8c98df1b006" + "80897a" + "80897a" +
		"01" + "000000000000e03f" + "00" + "000e000000" +
		`7b226e616d65223a2263222c22696e70757473223a7b2269223a317d2c22726573756c74223a317d`
	raw, err := marshalTask(x)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%x", raw); got != wantValue {
		t.Errorf("stored value\n got %s\nwant %s", got, wantValue)
	}
	const wantHeader = "01aac4a8c98df1b00606" + "010b6f6a576f0e4b8e9d3c1f5f7a3c2e11" + "0302" + "00" +
		"011b6f6a576f0e4b8e9d3c1f5f7a3c2e11" + "0503" + "040163" + "00"
	if got := fmt.Sprintf("%x", headerOf(x).encode()); got != wantHeader {
		t.Errorf("header\n got %s\nwant %s", got, wantHeader)
	}
}

// FuzzDecodeHeader: no bytes make decodeHeader panic, and a compact header that decodes
// encodes back to the same header.
func FuzzDecodeHeader(f *testing.F) {
	h := header{ID: "0b6f6a57-6f0e-4b8e-9d3c-1f5f7a3c2e11", Created: 1, Seq: 2, Status: task.Pending, TreeID: "t", ParentID: "t", Name: "n", Method: "m", Named: true}
	f.Add(h.encode())
	f.Add(earlierHeader(h))
	f.Add([]byte{headerTag, 2, 4, strSame, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeHeader(b)
		if err != nil || len(b) == 0 || b[0] != headerTag {
			return
		}
		back, err := decodeHeader(got.encode())
		if err != nil || back != got {
			t.Fatalf("header %+v re-encodes to %+v, %v", got, back, err)
		}
	})
}

// TestKeyStringBytes pins the bytes of appendString, which are on disk in every key.
func TestKeyStringBytes(t *testing.T) {
	for _, c := range []struct{ s, want string }{
		{"", "\x00\x01"},
		{"ab", "ab\x00\x01"},
		{"a\x00b", "a\x00\xffb\x00\x01"},
		{"\x00\x00", "\x00\xff\x00\xff\x00\x01"},
		{testRootID, testRootID + "\x00\x01"},
	} {
		if got := string(appendString([]byte("k"), c.s)); got != "k"+c.want {
			t.Errorf("appendString(%q) = %q, want %q", c.s, got[1:], c.want)
		}
	}
}

// FuzzKeyString checks the three promises of appendString: readString gives the string
// back with the bytes after it, byte order of encodings is the order of the strings, and
// no encoding is a prefix of another's.
func FuzzKeyString(f *testing.F) {
	for _, c := range [][2]string{
		{"", "a"}, {"a", "a\x00"}, {"a\x00b", "a\x00\x00"}, {"\x00", "\x01"},
		{testRootID, "1b6f6a57-6f0e-4b8e-9d3c-1f5f7a3c2e11"}, {"x\xff", "x\x00\xff"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := appendString([]byte{prefixTask}, a), appendString(nil, b)
		got, rest, err := readString(append(ka[1:], kb...))
		if err != nil || got != a || !bytes.Equal(rest, kb) {
			t.Fatalf("readString(appendString(%q) + appendString(%q)) = %q, rest %q, %v", a, b, got, rest, err)
		}
		if c, want := bytes.Compare(ka[1:], kb), strings.Compare(a, b); c != want {
			t.Fatalf("encodings of %q and %q compare %d, the strings %d", a, b, c, want)
		}
		if a != b && (bytes.HasPrefix(ka[1:], kb) || bytes.HasPrefix(kb, ka[1:])) {
			t.Fatalf("encoding of %q or %q is a prefix of the other's", a, b)
		}
	})
}
