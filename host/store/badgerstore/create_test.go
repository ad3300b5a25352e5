package badgerstore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/klauspost/compress/s2"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// bigTree returns a tree of n tasks, each depending on the previous one, with a user:
// about 7 keys per task.
func bigTree(prefix string, n int) []*task.Task {
	ts := make([]*task.Task, n)
	for i := range ts {
		parent := ""
		if i > 0 {
			parent = prefix + "0"
		}
		x := mk(fmt.Sprintf("%s%d", prefix, i), parent, i)
		x.TaskTreeID, x.UserID = prefix+"0", "u"
		if i > 1 {
			x.Dependencies = []task.Dependency{{ID: fmt.Sprintf("%s%d", prefix, i-1), Required: true}}
		}
		ts[i] = x
	}
	return ts
}

// markers counts the stored markers of chunked creates.
func markers(t *testing.T, s *Store) int { return countKeys(t, s, []byte{prefixCreate}) }

// countKeys counts the stored keys under prefix.
func countKeys(tb testing.TB, s *Store, prefix []byte) int {
	tb.Helper()
	n := 0
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestChunkedCreate(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20}) // ~1,600 entries per txn
	ctx := t.Context()
	if err := s.Create(ctx, []*task.Task{mk("other", "", 0)}); err != nil {
		t.Fatal(err)
	}
	ts := bigTree("big", 3000)
	if got := chunksOf(t, s, ts); got < 3 {
		t.Fatalf("%d chunks; the test needs a create over several transactions", got)
	}
	chunks := 0
	s.testChunkHook = func(i int) {
		chunks++
		// Committed chunks stay invisible until the create is whole.
		if _, err := s.Get(ctx, "big0"); err == nil {
			t.Errorf("chunk %d: a task of the create is visible", i)
		}
		if n, err := s.Count(ctx, store.Filter{}); err != nil || n != 1 {
			t.Errorf("chunk %d: Count = %d, %v; want 1", i, n, err)
		}
		if kids, err := s.Children(ctx, "big0"); err != nil || len(kids) != 0 {
			t.Errorf("chunk %d: Children = %d, %v", i, len(kids), err)
		}
		if _, err := s.Update(ctx, "big1", func(*task.Task) error { return nil }); apferr.CodeOf(err) != apferr.TaskNotFound {
			t.Errorf("chunk %d: Update of a task of the create: %v, want TaskNotFound", i, err)
		}
		// Its ids are taken.
		if err := s.Create(ctx, []*task.Task{mk("big2999", "", 0)}); apferr.CodeOf(err) != apferr.InvalidParams {
			t.Errorf("chunk %d: Create of a reserved id: %v, want already exists", i, err)
		}
	}
	if err := s.Create(ctx, ts); err != nil {
		t.Fatal(err)
	}
	if chunks < 3 {
		t.Fatalf("%d chunks committed", chunks)
	}
	tree, err := s.Tree(ctx, "big0")
	if err != nil || len(tree) != 3000 {
		t.Fatalf("Tree = %d tasks, %v; want 3000", len(tree), err)
	}
	if n, err := s.Count(ctx, store.Filter{}); err != nil || n != 3001 {
		t.Fatalf("Count = %d, %v; want 3001", n, err)
	}
	if m := markers(t, s); m != 0 {
		t.Fatalf("%d markers left after a complete create", m)
	}
	if n := len(s.reservations); n != 0 {
		t.Errorf("%d reservations kept after the create", n)
	}
	checkIndexes(t, s)
}

// chunksOf is the number of commits a Create of ts takes on s before its last one (1
// when it fits in one).
func chunksOf(t *testing.T, s *Store, ts []*task.Task) int {
	t.Helper()
	n, b := 1, budget{s: s}
	for _, x := range ts {
		e, err := encode(x)
		if err != nil {
			t.Fatal(err)
		}
		_ = e.eachWrite(func(w write) error {
			if b.full(w) {
				n, b = n+1, budget{s: s}
			}
			b.add(w)
			return nil
		})
	}
	return n
}

// TestChunkedCreateAllOrNothing fails a chunked create in its last chunk or a middle
// one: the chunks already committed are deleted, whether the failure is the commit's (an
// id exists) or the encoding's (tasks are encoded as the chunks fill).
func TestChunkedCreateAllOrNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		existing []*task.Task
		spoil    func(ts []*task.Task)
		want     func(error) bool
	}{
		{name: "an id exists", existing: []*task.Task{mk("dup2999", "", 0)}, want: taken("dup2999")},
		// The chunk after the failing one is queued before the failure is known: it
		// must store nothing.
		{name: "an id of a middle chunk exists", existing: []*task.Task{mk("dup2000", "", 0)}, want: taken("dup2000")},
		{name: "the last task cannot be encoded", spoil: func(ts []*task.Task) { ts[len(ts)-1].Result = func() {} }, want: func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "encode task dup2999")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20})
			ctx := t.Context()
			if err := s.Create(ctx, append(c.existing, mk("other", "", 0))); err != nil {
				t.Fatal(err)
			}
			ts := bigTree("dup", 3000)
			if n := chunksOf(t, s, ts[:2000]); n < 3 {
				t.Fatalf("%d chunks before dup2000; the test needs several", n)
			}
			if c.spoil != nil {
				c.spoil(ts)
			}
			var committed []int
			s.testChunkHook = func(i int) { committed = append(committed, i) }
			if err := s.Create(ctx, ts); !c.want(err) {
				t.Fatalf("Create = %v", err)
			}
			s.testChunkHook = nil
			if len(committed) < 2 {
				t.Fatalf("chunks %v committed before the failure; the test needs several", committed)
			}
			// The chunks committed are the first ones (afterChunk).
			if slices.Max(committed) != len(committed)-1 {
				t.Fatalf("chunks %v committed: a chunk after the failing one was stored", committed)
			}
			if n, err := s.Count(ctx, store.Filter{}); err != nil || n != len(c.existing)+1 {
				t.Fatalf("Count = %d, %v; want %d", n, err, len(c.existing)+1)
			}
			if m := markers(t, s); m != 0 {
				t.Fatalf("%d markers left after a failed create", m)
			}
			if n := len(s.reservations); n != 0 {
				t.Errorf("%d reservations kept after the failed create", n)
			}
			checkIndexes(t, s)
			// The ids are free again.
			if err := s.Create(ctx, bigTree("dup", 2000)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestChunkedCreateTakenIDSpills: a create of a task whose id is taken fails, and when
// the task's index entries spill over into the next chunk (thousands of dependencies),
// that chunk, queued before the failure was known, stores nothing: its undo would
// delete the stored task's entries, which have the same keys.
func TestChunkedCreateTakenIDSpills(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20})
	ctx := t.Context()
	wide := func() *task.Task {
		x := mk("wide", "", 0)
		for i := range 3000 {
			x.Dependencies = append(x.Dependencies, task.Dependency{ID: fmt.Sprintf("dep%d", i), Required: true})
		}
		return x
	}
	if err := s.Create(ctx, []*task.Task{wide()}); err != nil {
		t.Fatal(err)
	}
	if n := chunksOf(t, s, []*task.Task{wide()}); n < 2 {
		t.Fatalf("%d chunks; the test needs the task's entries over several", n)
	}
	if err := s.Create(ctx, []*task.Task{wide()}); !taken("wide")(err) {
		t.Fatalf("Create of the same task again = %v, want already exists", err)
	}
	if m := markers(t, s); m != 0 {
		t.Fatalf("%d markers left after a failed create", m)
	}
	checkIndexes(t, s)
	if kids, err := s.Dependents(ctx, "dep2999"); err != nil || len(kids) != 1 {
		t.Fatalf("Dependents of dep2999 = %d, %v; want the stored task", len(kids), err)
	}
}

// taken reports whether err is the already-exists error of id.
func taken(id string) func(error) bool {
	return func(err error) bool {
		var e *apferr.Error
		return errors.As(err, &e) && e.Data.(map[string]any)["task_id"] == id
	}
}

// TestChunkedCreateCrash stops a chunked create after two chunks, as a crash would: the
// next Open deletes what was stored.
func TestChunkedCreateCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// form rewrites a stored marker value before the reopen; nil keeps it.
		form func(t *testing.T, v []byte) []byte
		// mem is the writer's memtable size, 1 MiB when 0; the reopen's is 1 MiB, whose
		// transactions are too small for a chunk of a writer with larger memtables.
		mem int64
	}{
		{name: "markers as written"},
		{name: "markers of earlier versions: the key list uncompressed", form: unpackedMarker},
		{name: "reopened with smaller memtables", mem: 4 << 20},
		{name: "markers of the earliest versions: task ids", form: idListMarker},
		{name: "task ids, reopened with smaller memtables", form: idListMarker, mem: 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := Open(Options{Dir: dir, MemTableSize: cmp.Or(tc.mem, 1<<20)})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if err := s.Create(ctx, []*task.Task{mk("keep", "", 0)}); err != nil {
				t.Fatal(err)
			}
			crashAtChunk(&s.testChunkHook, 1, func() { _ = s.Create(ctx, bigTree("cr", 3000)) })
			// Chunks 0 and 1 are committed; chunk 2 was queued when the crash came and
			// may be committed too (a create keeps two chunks queued).
			if m := markers(t, s); m < 2 {
				t.Fatalf("%d markers after the crash, want at least 2", m)
			}
			if tc.form != nil {
				rewriteMarkers(t, s, tc.form)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = setup(t, Options{Dir: dir, MemTableSize: 1 << 20})
			if got := s.db.Opts().MemTableSize; got != 1<<20 {
				t.Fatalf("reopened with %d-byte memtables, want %d", got, 1<<20)
			}
			if n, err := s.Count(ctx, store.Filter{}); err != nil || n != 1 {
				t.Fatalf("Count after reopen = %d, %v; want 1", n, err)
			}
			if m := markers(t, s); m != 0 {
				t.Fatalf("%d markers after reopen", m)
			}
			checkIndexes(t, s)
			if err := s.Create(ctx, bigTree("cr", 3000)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// crashAtChunk runs fn, which writes in chunks, as if the process died once chunk
// committed: *hook (a testChunkHook) stops fn there, the chunks queued meanwhile
// being left to the committer.
func crashAtChunk(hook *func(int), chunk int, fn func()) {
	type crash struct{}
	*hook = func(i int) {
		if i == chunk {
			panic(crash{})
		}
	}
	defer func() {
		*hook = nil
		if p := recover(); p != (crash{}) {
			panic(p)
		}
	}()
	fn()
}

// unpackedMarker turns a marker as markerValue writes it into the form of earlier
// versions: the key list uncompressed after markerKeysTag.
func unpackedMarker(t *testing.T, v []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(v, markerPackedTag) {
		t.Fatalf("marker starts with % x, not the packed tag", v[:2])
	}
	list, err := s2.Decode(nil, v[len(markerPackedTag):])
	if err != nil {
		t.Fatal(err)
	}
	return append(bytes.Clone(markerKeysTag), list...)
}

// idListMarker turns a marker as markerValue writes it into the form of the earliest
// versions: the ids of the tasks whose key it lists (createdIDs).
func idListMarker(t *testing.T, v []byte) []byte {
	t.Helper()
	keys, err := markerKeys(v)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, k := range keys {
		if id, ok := keyTaskID(k); ok {
			out = appendString(out, string(id))
		}
	}
	return out
}

// rewriteMarkers replaces the value of every stored create marker with form's.
func rewriteMarkers(t *testing.T, s *Store, form func(*testing.T, []byte) []byte) {
	t.Helper()
	err := s.db.Update(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte{prefixCreate}
		it := txn.NewIterator(opts)
		defer it.Close()
		type kv struct{ k, v []byte }
		var all []kv
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			all = append(all, kv{it.Item().KeyCopy(nil), form(t, v)})
		}
		it.Close()
		for _, e := range all {
			if err := txn.Set(e.k, e.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMarkerValue(t *testing.T) {
	t.Parallel()
	var ws []write
	for _, x := range []*task.Task{mk("a", "", 0), mk("b", "a", 1)} {
		_ = mustEncode(t, x).eachWrite(func(w write) error { ws = append(ws, w); return nil })
	}
	packed := markerValue(ws, &markerScratch{})
	for _, tc := range []struct {
		name    string
		value   []byte
		wantErr string
	}{
		{name: "packed", value: packed},
		{name: "uncompressed (earlier versions)", value: unpackedMarker(t, packed)},
		{name: "packed, cut short", value: packed[:len(packed)-3], wantErr: "decompress key list"},
		{name: "uncompressed, cut short", value: unpackedMarker(t, packed)[:20], wantErr: "truncated key list"},
		{name: "ids (earliest versions)", value: appendString(nil, "a"), wantErr: "not a key list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listsKeys(tc.value); got != (tc.wantErr != "not a key list") {
				t.Errorf("listsKeys = %v", got)
			}
			keys, err := markerKeys(tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("markerKeys error = %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(ws) {
				t.Fatalf("%d keys, want %d", len(keys), len(ws))
			}
			for i, k := range keys {
				if !bytes.Equal(k, ws[i].key) {
					t.Errorf("key %d = %q, want %q", i, k, ws[i].key)
				}
			}
		})
	}
}

func mustEncode(t *testing.T, x *task.Task) encoded {
	t.Helper()
	e, err := encode(x)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestChunkedCreateOlderSnapshot reads a chunked create from a view whose snapshot was
// taken after its first chunk and that reads on after the create ended: the view sees
// the store as before the create, whether the create was made whole or undone, and the
// create's reservation is forgotten once that view ends.
func TestChunkedCreateOlderSnapshot(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		fail bool // the create's last task takes a stored id: its chunks are undone
	}{
		{name: "made whole"},
		{name: "undone", fail: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20})
			ctx := t.Context()
			if err := s.Create(ctx, []*task.Task{mk("other", "", 0)}); err != nil {
				t.Fatal(err)
			}
			ts := bigTree("big", 3000)
			if c.fail {
				ts[len(ts)-1].ID = "other"
			}
			began, ended := make(chan struct{}), make(chan struct{})
			type seen struct {
				listed, counted int
				get             error
			}
			saw := make(chan seen, 1)
			s.testChunkHook = func(i int) {
				if i != 0 {
					return
				}
				s.testChunkHook = nil
				go func() {
					var v seen
					err := s.view(func(txn *badger.Txn) error {
						close(began)
						<-ended // the create is whole, or undone, and released
						ids, err := s.indexIDs(ctx, txn, scopePrefix(prefixAll))
						v.listed = len(ids)
						if err != nil {
							return err
						}
						err = s.matching(ctx, txn, store.Filter{}, func(header) { v.counted++ })
						if err != nil {
							return err
						}
						_, v.get = s.readTask(txn, "big0")
						return nil
					})
					if err != nil {
						t.Error(err)
					}
					saw <- v
				}()
				<-began
			}
			err := s.Create(ctx, ts)
			if c.fail != (err != nil) {
				t.Fatalf("Create: %v", err)
			}
			if got := len(s.reservations); got != 1 {
				t.Errorf("%d reservations while a view that may hold part of the create runs, want 1", got)
			}
			close(ended)
			v := <-saw
			if v.listed != 1 || v.counted != 1 || apferr.CodeOf(v.get) != apferr.TaskNotFound {
				t.Errorf("the older view listed %d tasks, counted %d, read big0: %v; want 1, 1 and not found", v.listed, v.counted, v.get)
			}
			want := 3001
			if c.fail {
				want = 1
			}
			if n, err := s.Count(ctx, store.Filter{}); err != nil || n != want {
				t.Errorf("a later Count = %d, %v; want %d", n, err, want)
			}
			if got := len(s.reservations); got != 0 {
				t.Errorf("%d reservations kept after the older view ended", got)
			}
			if c.fail { // the ids are free again
				if err := s.Create(ctx, ts[:1]); err != nil {
					t.Errorf("Create of an id of the undone create: %v", err)
				}
			}
		})
	}
}

// TestReleaseDuringView: a view that began while a chunked create was in progress (its
// tasks stored, its markers gone: between its last commit and its release) keeps
// skipping the create's tasks after the release, and a view begun after the release
// sees them all.
func TestReleaseDuringView(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	r := &reservation{id: "rv"}
	if err := s.reserve(r, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	checked := s.db.NewTransaction(false) // the snapshot the create's chunk was checked in
	defer checked.Discard()
	err := s.db.Update(func(txn *badger.Txn) error { // what the create's commits leave
		for _, x := range []*task.Task{mk("a", "", 0), mk("b", "", 1)} {
			e, err := encode(x)
			if err != nil {
				return err
			}
			if err := e.eachWrite(func(w write) error { return txn.Set(w.key, w.value) }); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.hideStored(r, 2, checked)
	var before, after error
	if err := s.view(func(txn *badger.Txn) error {
		_, before = s.readTask(txn, "a")
		s.release(r) // the create's goroutine, meanwhile
		_, after = s.readTask(txn, "b")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if apferr.CodeOf(before) != apferr.TaskNotFound || apferr.CodeOf(after) != apferr.TaskNotFound {
		t.Errorf("one view read a: %v, then b: %v; want both hidden", before, after)
	}
	if n, err := s.Count(t.Context(), store.Filter{}); err != nil || n != 2 {
		t.Errorf("a later Count = %d, %v; want 2", n, err)
	}
	if n := len(s.reservations); n != 0 {
		t.Errorf("%d reservations kept after the view ended", n)
	}
}

// TestRecreatedIDInOlderView: a view holds task big0; its tree is deleted and a chunked
// create stores the same ids again. The view, which began before that create was
// reserved, reads the old big0 throughout: while the create is in progress and after its
// release, whether or not another create was reserved when the view began (a counted
// view or not).
func TestRecreatedIDInOlderView(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		counted bool // another chunked create is in progress when the view begins
	}{
		{name: "view not counted"},
		{name: "counted view", counted: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20})
			ctx := t.Context()
			if err := s.Create(ctx, bigTree("big", 3)); err != nil {
				t.Fatal(err)
			}
			if c.counted {
				if err := s.reserve(&reservation{id: "other"}, []string{"zzz"}); err != nil {
					t.Fatal(err)
				}
			}
			var before, during, after error
			var counts []int
			count := func(txn *badger.Txn) {
				n := 0
				if err := s.matching(ctx, txn, store.Filter{}, func(header) { n++ }); err != nil {
					t.Error(err)
				}
				counts = append(counts, n)
			}
			if err := s.view(func(txn *badger.Txn) error {
				_, before = s.readTask(txn, "big0")
				count(txn)
				if err := s.Delete(ctx, []string{"big0", "big1", "big2"}); err != nil { // meanwhile, other callers
					return err
				}
				s.testChunkHook = func(i int) {
					if i == 0 {
						_, during = s.readTask(txn, "big0")
						count(txn)
					}
				}
				if err := s.Create(ctx, bigTree("big", 3000)); err != nil {
					return err
				}
				_, after = s.readTask(txn, "big0")
				count(txn)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if before != nil || during != nil || after != nil || !slices.Equal(counts, []int{3, 3, 3}) {
				t.Errorf("one view read big0: %v, %v, %v; counted %v; want the old big0 and 3 tasks each time", before, during, after, counts)
			}
		})
	}
}

// TestViewDuringCreateKeepsDeletedTask: a view that began during a chunked create, before
// the chunk storing big2999, holds an older big2999, which is deleted meanwhile; the
// chunk stores the id again. The view reads the old task throughout, and the ids it
// listed load.
func TestViewDuringCreateKeepsDeletedTask(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20})
	ctx := t.Context()
	old := mk("big2999", "", 0)
	old.TaskTreeID, old.UserID = "big2999", "u"
	if err := s.Create(ctx, []*task.Task{old}); err != nil {
		t.Fatal(err)
	}
	ready, created, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var before, after, loaded error
	s.testChunkHook = func(i int) {
		if i != 0 {
			return
		}
		s.testChunkHook = nil
		go func() {
			defer close(done)
			err := s.view(func(txn *badger.Txn) error {
				_, before = s.readTask(txn, "big2999")
				ids, err := s.indexIDs(ctx, txn, scopePrefix(prefixAll))
				if err != nil {
					return err
				}
				if err := s.Delete(ctx, []string{"big2999"}); err != nil { // meanwhile, another caller
					return err
				}
				close(ready)
				<-created
				_, after = s.readTask(txn, "big2999")
				_, loaded = s.load(txn, ids, false)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
		<-ready
	}
	if err := s.Create(ctx, bigTree("big", 3000)); err != nil {
		t.Fatal(err)
	}
	close(created)
	<-done
	if before != nil || after != nil || loaded != nil {
		t.Errorf("one view read big2999: %v, then %v; loading the ids it listed: %v", before, after, loaded)
	}
}

// TestDeleteAndChunkInOneRound: a Delete of big0 (with its child oldkid) and the chunk
// of a create storing big0 again share one committer transaction, the Delete first. A
// view begun after the chunk was checked but before that commit holds the old big0 and
// oldkid, and sees both.
func TestDeleteAndChunkInOneRound(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20})
	ctx := t.Context()
	old := mk("big0", "", 0)
	old.TaskTreeID, old.UserID = "big0", "u"
	kid := mk("oldkid", "big0", 1)
	kid.TaskTreeID, kid.UserID = "big0", "u"
	if err := s.Create(ctx, []*task.Task{old, kid}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var parentErr, kidErr error
	viewed := false
	s.c.testCommitErr = func() error {
		s.hideMu.RLock()
		hid := len(s.reservations) > 0 && len(s.reservations[0].chunks) > 0
		s.hideMu.RUnlock()
		if !hid {
			return nil
		}
		once.Do(func() {
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = s.view(func(txn *badger.Txn) error {
					_, parentErr = s.readTask(txn, "big0")
					_, kidErr = s.readTask(txn, "oldkid")
					return nil
				})
			}()
			<-done
			viewed = true
		})
		return nil
	}
	started, unblock := make(chan struct{}), make(chan struct{})
	go s.submit(ctx, func(*badger.Txn) ([]write, error) { close(started); <-unblock; return nil, nil }) // holds the queue
	<-started
	delDone := make(chan error, 1)
	go func() { delDone <- s.Delete(ctx, []string{"big0", "oldkid"}) }()
	for s.c.queue.Queued() < 1 {
		time.Sleep(time.Millisecond)
	}
	createDone := make(chan error, 1)
	go func() { createDone <- s.Create(ctx, bigTree("big", 3000)) }()
	for s.c.queue.Queued() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(unblock)
	if err := <-delDone; err != nil {
		t.Fatal(err)
	}
	if err := <-createDone; err != nil {
		t.Fatal(err)
	}
	if !viewed {
		t.Fatal("no view ran")
	}
	if parentErr != nil || kidErr != nil {
		t.Errorf("a view whose snapshot holds the old big0 and oldkid read big0: %v, oldkid: %v", parentErr, kidErr)
	}
}

// TestUnhideChunksNotStored: a create records each chunk checked, also one holding only
// index entries, so that an abort forgets exactly the chunks that were not stored.
func TestUnhideChunksNotStored(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	r := &reservation{id: "u"}
	if err := s.reserve(r, []string{"a", "b", "c", "d"}); err != nil {
		t.Fatal(err)
	}
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	for _, n := range []int{2, 2, 4} { // the second chunk holds index entries only
		s.hideStored(r, n, txn)
	}
	s.unhideFrom(r, 2) // chunks 0 and 1 were stored, chunk 2 was not
	if _, stored := r.storedAfter(1); !stored {
		t.Error("b, of a chunk stored, counts as not stored")
	}
	if _, stored := r.storedAfter(3); stored {
		t.Error("d, of a chunk checked but not stored, counts as stored")
	}
}
