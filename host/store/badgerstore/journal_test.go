package badgerstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// replayed returns the writes of every record the journal file at path replays, as
// "key=value" and "-key" strings, one slice per record.
func replayed(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return replayedBytes(t, data)
}

func replayedBytes(t testing.TB, data []byte) [][]string {
	t.Helper()
	var got [][]string
	_, _, err := replayJournal(bytes.NewReader(data), int64(len(data)), func(ws []write) error {
		got = append(got, writeStrings(ws))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func writeStrings(ws []write) []string {
	var s []string
	for _, w := range ws {
		if w.del {
			s = append(s, "-"+string(w.key))
		} else {
			s = append(s, string(w.key)+"="+string(w.value))
		}
	}
	return s
}

func set(k, v string) write { return write{key: []byte(k), value: []byte(v)} }
func del(k string) write    { return write{key: []byte(k), del: true} }

// TestJournalReplay writes records through a journal, some of whose commits fail, and
// reads back what Open would replay.
func TestJournalReplay(t *testing.T) {
	t.Parallel()
	ok := func() error { return nil }
	refused := func() error { return errors.New("badger refused") }
	type commit struct {
		writes []write
		badger func() error
	}
	tests := []struct {
		name    string
		commits []commit
		// mangle, when set, changes the file after the commits, whose records end at
		// end.
		mangle func(t *testing.T, path string, end int)
		want   [][]string
	}{
		{"records in order, sets and deletes, across transactions",
			[]commit{{[]write{set("a", "1"), set("b", "2")}, ok}, {[]write{del("a"), set("c", "")}, ok}}, nil,
			[][]string{{"a=1", "b=2"}, {"-a", "c="}}},
		{"a commit without writes writes no record, which would end the journal",
			[]commit{{[]write{set("a", "1")}, ok}, {nil, ok}, {[]write{set("b", "2")}, ok}}, nil,
			[][]string{{"a=1"}, {"b=2"}}},
		{"a commit Badger refused is not replayed",
			[]commit{{[]write{set("a", "1")}, ok}, {[]write{set("b", "2")}, refused}}, nil,
			[][]string{{"a=1"}}},
		{"a torn last record is dropped",
			[]commit{{[]write{set("a", "1")}, ok}, {[]write{set("b", "22222")}, ok}},
			func(t *testing.T, path string, end int) { writeTestFile(t, path, string(readFile(t, path)[:end-3])) },
			[][]string{{"a=1"}}},
		{"a record of an earlier epoch past the end is not read",
			[]commit{{[]write{set("a", "1")}, ok}},
			func(t *testing.T, path string, end int) {
				data := readFile(t, path)[:end]
				data = testRecord(data, 0, [][]write{{set("old", "x")}})
				writeTestFile(t, path, string(data))
			},
			[][]string{{"a=1"}}},
		{"a header that does not check is an empty journal",
			[]commit{{[]write{set("a", "1")}, ok}},
			func(t *testing.T, path string, _ int) {
				data := readFile(t, path)
				data[3] ^= 1
				writeTestFile(t, path, string(data))
			},
			nil},
		{"a flipped bit in the last record ends the replay there, as a torn write (in a middle one: TestJournalDamageIsNotAnEnd)",
			[]commit{{[]write{set("a", "1")}, ok}, {[]write{set("b", "2")}, ok}, {[]write{set("cccc", "3")}, ok}},
			func(t *testing.T, path string, _ int) {
				data := readFile(t, path)
				i := bytes.Index(data, []byte("cccc"))
				data[i+1] ^= 1
				writeTestFile(t, path, string(data))
			},
			[][]string{{"a=1"}, {"b=2"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newTestJournal(t)
			for _, c := range tc.commits {
				discarded := false
				start := j.off
				err := j.commitWith(c.badger, func() { discarded = true }, c.writes)
				if (err != nil) != (c.badger() != nil) || discarded {
					t.Fatalf("commit: %v (discarded %v)", err, discarded)
				}
				if err != nil {
					record := int64(len(testRecord(nil, j.epoch, [][]write{c.writes})))
					if rest := readFile(t, j.f.Name())[start : start+record]; slices.ContainsFunc(rest, func(b byte) bool { return b != 0 }) {
						t.Errorf("the refused commit's record is not zeroed whole: %q", rest)
					}
				}
			}
			path := j.f.Name()
			if tc.mangle != nil {
				tc.mangle(t, path, int(j.off))
			}
			if got := replayed(t, path); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("replayed %q, want %q", got, tc.want)
			}
		})
	}
}

// TestJournalTornAtEveryByte cuts the journal at every byte of its last record: the
// records before it replay, never part of it.
func TestJournalTornAtEveryByte(t *testing.T) {
	t.Parallel()
	j := newTestJournal(t)
	for _, ws := range [][]write{{set("a", "1")}, {set("key", "value"), del("a")}} {
		if err := j.commitWith(func() error { return nil }, func() {}, ws); err != nil {
			t.Fatal(err)
		}
	}
	data := readFile(t, j.f.Name())[:j.off]
	last := int(j.off) - len(testRecord(nil, j.epoch, [][]write{{set("key", "value"), del("a")}}))
	for cut := last; cut < len(data); cut++ {
		if got := replayedBytes(t, data[:cut]); len(got) != 1 {
			t.Fatalf("cut at %d of %d: replayed %q, want the first record alone", cut, len(data), got)
		}
	}
	if got := replayedBytes(t, data); len(got) != 2 {
		t.Fatalf("whole: replayed %q", got)
	}
}

// TestJournalBreaks: after a commit Badger refuses, or a journal that cannot be written,
// every later commit fails without reaching Badger (its outcome, or the disk's state, is
// no longer known).
func TestJournalBreaks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(j *journal) func() error // the failing commit's Badger commit
	}{
		{"Badger refused a commit", func(*journal) func() error {
			return func() error { return errors.New("badger refused") }
		}},
		{"the journal cannot be written", func(j *journal) func() error {
			if j.direct != nil {
				j.direct.pwrite = func([]byte, int64) (int, error) { return 0, syscall.EIO }
			} else {
				j.f.Close()
			}
			return func() error { t.Error("Badger committed a write the journal does not hold"); return nil }
		}},
	}
	for _, m := range journalModes {
		for _, tc := range tests {
			t.Run(m.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				j := newModeJournal(t, m.direct)
				if err := j.commitWith(tc.setup(j), func() {}, []write{set("a", "1")}); err == nil {
					t.Fatal("the failing commit succeeded")
				}
				committed, discarded := false, false
				err := j.commitWith(func() error { committed = true; return nil }, func() { discarded = true }, []write{set("b", "2")})
				if err == nil || committed || !discarded {
					t.Fatalf("the next commit: %v, committed %v, discarded %v; want an error, discarded", err, committed, discarded)
				}
			})
		}
	}
}

// TestReplayFailsOnReadErrors: only the end of the file ends a replay; an error reading it
// fails Open rather than dropping what follows.
func TestReplayFailsOnReadErrors(t *testing.T) {
	t.Parallel()
	data := append(journalHeader(3), make([]byte, journalDataOffset-journalHeaderSize)...)
	data = testRecord(data, 3, [][]write{{set("a", "1")}})
	eio := errors.New("input/output error")
	for _, at := range []int{10, journalDataOffset + 3, len(data) - 1} {
		r := io.MultiReader(bytes.NewReader(data[:at]), iotest.ErrReader(eio))
		if _, _, err := replayJournal(r, int64(len(data)), func([]write) error { return nil }); !errors.Is(err, eio) {
			t.Errorf("read error at %d: %v, want it", at, err)
		}
	}
}

func newTestJournal(t testing.TB) *journal {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), journalName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	j := newJournal(filepath.Dir(f.Name()), f, hclog.NewNullLogger(), 0)
	j.checkpointAt = 1 << 40
	if err := j.reset(journalPrealloc); err != nil {
		t.Fatal(err)
	}
	return j
}

// copyJournal copies the journal of the data directory src into dst, as a crash would
// leave it beside dst's other files.
func copyJournal(t *testing.T, src, dst string) {
	t.Helper()
	writeTestFile(t, filepath.Join(dst, journalName), string(readFile(t, filepath.Join(src, journalName))))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// FuzzReplayJournal: replay of any file ends without panicking, and a journal of valid
// records followed by any bytes replays at least its records.
func FuzzReplayJournal(f *testing.F) {
	valid := append(journalHeader(7), make([]byte, journalDataOffset-journalHeaderSize)...)
	valid = testRecord(valid, 7, [][]write{{set("a", "1"), del("b")}})
	f.Add(valid, []byte{})
	f.Add(valid, []byte{3, 0, 0, 0, 1, 2, 3, 4, 0, 1})
	f.Add([]byte{}, []byte{0xff})
	f.Fuzz(func(t *testing.T, prefix, tail []byte) {
		data := append(slices.Clone(prefix), tail...)
		_, n, _ := replayJournal(bytes.NewReader(data), int64(len(data)), func([]write) error { return nil })
		if bytes.HasPrefix(data, valid) && n < 1 {
			t.Fatalf("a valid record followed by %q replayed %d records", tail, n)
		}
	})
}

// TestJournalRestoresWhatBadgerLost simulates a machine crash that loses Badger's
// unsynced writes: the store's files are copied as they were before two commits, and the
// journal as it was after them. Open replays the journal: the task is completed, the
// deleted one gone. The same copy opened without the journal shows what Badger alone
// would have kept.
func TestJournalRestoresWhatBadgerLost(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := setup(t, Options{Dir: dir})
	if err := s.Create(ctx, []*task.Task{mk("r", "", 0), mk("a", "r", 1), mk("b", "r", 2)}); err != nil {
		t.Fatal(err)
	}
	before := t.TempDir()
	copyDir(t, dir, before)
	if _, err := s.Update(ctx, "a", func(t *task.Task) error { return t.Start(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	withJournal, without := t.TempDir(), t.TempDir()
	copyDir(t, before, withJournal)
	copyDir(t, before, without)
	copyJournal(t, dir, withJournal)
	if err := os.Remove(filepath.Join(without, journalName)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir             string
		wantStatus      task.Status
		wantB           bool
		wantCheckpoints int64
	}{
		{withJournal, task.InProgress, false, 1},
		{without, task.Pending, true, 1}, // a journal just created: Badger's files synced at once
	}
	for _, tc := range tests {
		r := setup(t, Options{Dir: tc.dir})
		if a, err := r.Get(ctx, "a"); err != nil || a.Status != tc.wantStatus {
			t.Errorf("%s: task a: %v; want it %s", filepath.Base(tc.dir), statusOf(a, err), tc.wantStatus)
		}
		_, err := r.Get(ctx, "b")
		if gotB := err == nil; gotB != tc.wantB || (err != nil && apferr.CodeOf(err) != apferr.TaskNotFound) {
			t.Errorf("%s: task b: %v; want present %v", filepath.Base(tc.dir), err, tc.wantB)
		}
		checkIndexes(t, r)
		if got := r.journal.checkpoints.Load(); got != tc.wantCheckpoints {
			t.Errorf("%s: %d checkpoints at Open, want %d", filepath.Base(tc.dir), got, tc.wantCheckpoints)
		}
		if r.journal.off != journalDataOffset {
			t.Errorf("%s: the journal holds %d bytes after Open; want it emptied", filepath.Base(tc.dir), r.journal.off)
		}
	}
}

// TestOneJournalSyncPerCommit: Badger runs unsynced, each commit syncs the journal once,
// and a store closed leaves its journal empty and unallocated. NoSync and memory have
// none.
func TestOneJournalSyncPerCommit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := setup(t, Options{Dir: dir}) // closed below too: Close is idempotent
	if s.db.Opts().SyncWrites {
		t.Error("Badger syncs its own writes")
	}
	syncs, batches := s.journal.syncs.Load(), s.c.batches.Load()
	if err := s.Create(ctx, []*task.Task{mk("r", "", 0), mk("a", "r", 1)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r", "a"} {
		if _, err := s.Update(ctx, id, func(t *task.Task) error { return t.Start(time.Now()) }); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.journal.syncs.Load()-syncs, s.c.batches.Load()-batches; got != want || want < 3 {
		t.Errorf("%d journal syncs for %d commits", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, journalName))
	if err != nil || info.Size() != journalHeaderSize {
		t.Errorf("journal after Close: %v, %v; want %d bytes", info, err, journalHeaderSize)
	}
	for _, opts := range []Options{{Dir: t.TempDir(), NoSync: true}, {InMemory: true}} {
		if s := setup(t, opts); s.journal != nil || s.c.journal != nil {
			t.Errorf("%+v: a journal", opts)
		}
	}
}

// TestJournalCheckpoints: past its size a commit checkpoints, emptying the journal, and
// what was committed before stays stored.
func TestJournalCheckpoints(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	var logs logbuf.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	s := setup(t, Options{Dir: dir, Logger: logger}) // closed below too: Close is idempotent
	s.journal.checkpointAt = 1                       // before any write: the committer reads it after the queue hands it a job
	for i := range 5 {
		if err := s.Create(ctx, []*task.Task{mk(fmt.Sprintf("t%d", i), "", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Count(logs.String(), "checkpoint: journal_bytes="); got < 5 {
		t.Errorf("%d checkpoints logged, want one a commit:\n%s", got, logs.String())
	}
	if n := s.journal.checkpoints.Load(); n < 5 {
		t.Errorf("%d checkpoints for 5 commits past the size", n)
	}
	epoch := s.journal.epoch
	if s.journal.off != journalDataOffset {
		t.Errorf("journal holds %d bytes after a checkpoint", s.journal.off)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := setup(t, Options{Dir: dir})
	if n, err := r.Count(ctx, store.Filter{}); err != nil || n != 5 {
		t.Errorf("after reopening: %d tasks, %v", n, err)
	}
	if r.journal.epoch == epoch {
		t.Errorf("epoch %d after reopening, as before", epoch)
	}
}

func statusOf(t *task.Task, err error) any {
	if err != nil {
		return err
	}
	return t.Status
}

// TestJournalHoldsEveryWrite runs writes of every kind, some too big for one Badger
// transaction (a chunked create, a big UpdateMany), against a store whose Badger files
// are then taken as they were when it opened, empty: replaying the journal alone must
// give back every key and value the live store holds.
func TestJournalHoldsEveryWrite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := setup(t, Options{Dir: dir, MemTableSize: 1 << 20})
	empty := t.TempDir()
	copyDir(t, dir, empty)

	tasks := []*task.Task{mk("r", "", 0)}
	for i := range 1500 {
		tasks = append(tasks, mk(fmt.Sprintf("c%04d", i), "r", i+1))
	}
	if err := s.Create(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	muts := make([]store.Mutation, len(tasks))
	for i, tk := range tasks {
		muts[i] = store.Mutation{ID: tk.ID, Fn: func(t *task.Task) error { t.Name += " renamed"; return nil }}
	}
	if _, err := s.UpdateMany(ctx, muts); err != nil {
		t.Fatal(err)
	}
	if s.c.batches.Load() < 4 {
		t.Fatalf("%d commits: the writes were meant to need chunks", s.c.batches.Load())
	}
	line := store.LogLine{Time: time.Now(), Source: "executor", Level: "info", Message: "hello"}
	if _, err := s.AppendLogs(ctx, "c0001", []store.LogLine{line, line}, store.LogBounds{MaxLines: 10, MaxBytes: 1 << 10}); err != nil {
		t.Fatal(err)
	}
	sp := store.KVSpace{Scope: "u", Plugin: "p"}
	for _, k := range []string{"k1", "k2"} {
		req := store.KVSetRequest{Space: sp, Entry: store.KVEntry{Key: k, Value: []byte("v")}, Quota: store.KVQuota{MaxBytes: 1 << 10, MaxKeys: 10}, Now: time.Now()}
		if _, err := s.KVSet(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.KVDelete(ctx, sp, "k1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, []string{"c0002", "c0003"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "c0004", func(t *task.Task) error { return t.Start(time.Now()) }); err != nil {
		t.Fatal(err)
	}

	want := dump(t, s)
	copyJournal(t, dir, empty)
	got := dump(t, setup(t, Options{Dir: empty, MemTableSize: 1 << 20}))
	if len(got) != len(want) {
		t.Errorf("replayed %d keys, the live store holds %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("key %q: replayed %q (present %v), live %q", k, g, ok, v)
		}
	}
}

// dump returns every key and value of the store's Badger database.
func dump(t *testing.T, s *Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			m[string(it.Item().KeyCopy(nil))] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRestateHoldsCheckpointsOff: a restatement writes every large value to the journal,
// as committed, and no checkpoint empties it before release; replaying it into an empty
// store gives those values back.
func TestRestateHoldsCheckpointsOff(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := setup(t, Options{Dir: dir, ValueThreshold: 64})
	empty := t.TempDir()
	copyDir(t, dir, empty)
	big := mk("big", "", 0)
	big.Inputs = map[string]any{"text": strings.Repeat("x", 300)}
	if err := s.Create(ctx, []*task.Task{big, mk("small", "", 1)}); err != nil {
		t.Fatal(err)
	}
	s.journal.checkpointAt = 1
	if err := s.Create(ctx, []*task.Task{mk("other", "", 2)}); err != nil { // checkpoints
		t.Fatal(err)
	}
	var restated int
	if err := s.submit(ctx, func(*badger.Txn) ([]write, error) {
		var err error
		restated, err = s.journal.restate(s.db, 0)
		return nil, err
	}); err != nil {
		t.Fatal(err)
	}
	checkpoints := s.journal.checkpoints.Load()
	if _, err := s.Update(ctx, "small", func(t *task.Task) error { return t.Start(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if s.journal.checkpoints.Load() != checkpoints {
		t.Error("a commit checkpointed while a restatement held them off")
	}
	copyJournal(t, dir, empty)
	r := setup(t, Options{Dir: empty, ValueThreshold: 64})
	if got, err := r.Get(ctx, "big"); err != nil || got.Inputs["text"] != big.Inputs["text"] {
		t.Errorf("restated task: %v", statusOf(got, err))
	}
	if got, err := r.Get(ctx, "small"); err != nil || got.Status != task.InProgress {
		t.Errorf("task updated after the restatement: %v", statusOf(got, err))
	}
	if restated == 0 {
		t.Error("nothing restated")
	}
	if err := s.submit(ctx, func(*badger.Txn) ([]write, error) { return nil, s.journal.release() }); err != nil {
		t.Fatal(err)
	}
	if s.journal.checkpoints.Load() != checkpoints+1 || s.journal.off != journalDataOffset {
		t.Errorf("release: %d checkpoints (was %d), journal at %d", s.journal.checkpoints.Load(), checkpoints, s.journal.off)
	}
}

// TestRestateSyncsEachRecord: a restatement of more values than one record holds syncs
// each record before it writes the next, so that only its last record can be torn and
// a power loss during it never reads as damage (ErrJournalDamaged).
func TestRestateSyncsEachRecord(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := setup(t, Options{Dir: t.TempDir(), ValueThreshold: 64})
	var tasks []*task.Task
	for i := range 600 { // 2.4 MB of values in the value log: three records
		tk := mk(fmt.Sprintf("t%03d", i), "", i)
		tk.Inputs = map[string]any{"text": strings.Repeat("x", 4000)}
		tasks = append(tasks, tk)
	}
	if err := s.Create(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	var synced []int64 // the journal's end at each sync
	syncData := s.journal.syncData
	s.journal.syncData = func() error {
		synced = append(synced, s.journal.off)
		return syncData()
	}
	start := s.journal.off
	if err := s.submit(ctx, func(*badger.Txn) ([]write, error) {
		_, err := s.journal.restate(s.db, 0)
		return nil, err
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.submit(ctx, func(*badger.Txn) ([]write, error) { return nil, s.journal.release() }) }()
	ends := recordEnds(t, readFile(t, s.journal.f.Name())[:s.journal.off], start)
	if len(ends) < 3 || !slices.Equal(synced, ends) {
		t.Errorf("syncs at %v, records ending at %v: want a sync after each record", synced, ends)
	}
}

// recordEnds returns where each record of data from start ends.
func recordEnds(t *testing.T, data []byte, start int64) []int64 {
	t.Helper()
	var ends []int64
	for off := start; off+recordHeaderSize <= int64(len(data)); {
		n := int64(binary.LittleEndian.Uint32(data[off:]))
		if n == 0 {
			break
		}
		off += recordHeaderSize + n
		ends = append(ends, off)
	}
	return ends
}

// TestNoSyncReplaysTheJournal: a store opened with NoSync replays what a crashed
// journaling process left and empties the journal, so no later Open replays it over
// newer writes.
func TestNoSyncReplaysTheJournal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := setup(t, Options{Dir: dir})
	before := t.TempDir()
	copyDir(t, dir, before)
	if err := s.Create(ctx, []*task.Task{mk("a", "", 0)}); err != nil {
		t.Fatal(err)
	}
	copyJournal(t, dir, before)
	n := setup(t, Options{Dir: before, NoSync: true})
	if _, err := n.Get(ctx, "a"); err != nil {
		t.Fatalf("NoSync open: %v", err)
	}
	if err := n.Delete(ctx, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := setup(t, Options{Dir: before}).Get(ctx, "a"); apferr.CodeOf(err) != apferr.TaskNotFound {
		t.Errorf("the task deleted under NoSync came back: %v", err)
	}
}

// TestJournalSyncOrder: a commit's record is synced, once, before Badger commits it; a
// checkpoint syncs the store's files while the journal still holds its records, and
// only then writes and syncs the header that empties it; a failed sync breaks the
// journal.
func TestJournalSyncOrder(t *testing.T) {
	t.Parallel()
	j := newTestJournal(t)
	var events []string
	syncData := j.syncData
	j.syncData = func() error {
		h := make([]byte, journalHeaderSize)
		if _, err := j.f.ReadAt(h, 0); err != nil {
			t.Fatal(err)
		}
		events = append(events, fmt.Sprintf("sync journal, epoch %d", binary.LittleEndian.Uint64(h[8:])))
		return syncData()
	}
	first := j.epoch
	j.syncFiles = func(string) error {
		events = append(events, fmt.Sprintf("sync files, journal at %d", j.off))
		return nil
	}
	badger := func() error { events = append(events, "badger commit"); return nil }
	if err := j.commitWith(badger, func() {}, []write{set("a", "1")}); err != nil {
		t.Fatal(err)
	}
	j.checkpointAt = 1
	if err := j.commitWith(badger, func() {}, []write{set("b", "2")}); err != nil {
		t.Fatal(err)
	}
	second := journalDataOffset + 2*int64(len(testRecord(nil, 0, [][]write{{set("a", "1")}})))
	synced := fmt.Sprintf("sync journal, epoch %d", first)
	want := []string{synced, "badger commit", synced, "badger commit",
		fmt.Sprintf("sync files, journal at %d", second), fmt.Sprintf("sync journal, epoch %d", j.epoch)}
	if !slices.Equal(events, want) || j.off != journalDataOffset || j.epoch == first {
		t.Errorf("events %q, journal at %d; want %q, emptied", events, j.off, want)
	}
	j.syncFiles = func(string) error { return errors.New("EIO") }
	if err := j.commitWith(badger, func() {}, []write{set("c", "3")}); err != nil {
		t.Fatalf("the commit whose checkpoint fails is durable: %v", err)
	}
	if err := j.commitWith(badger, func() {}, []write{set("d", "4")}); err == nil {
		t.Error("a commit after a failed checkpoint succeeded")
	}
}

// TestJournalRestartVoidsItsRecords: a checkpoint empties the journal by writing a new
// epoch into its header, keeping the file's blocks; the records left past the header
// replay as nothing, even one that lies whole at the end of the new records.
func TestJournalRestartVoidsItsRecords(t *testing.T) {
	t.Parallel()
	j := newTestJournal(t)
	j.syncFiles = func(string) error { return nil }
	commit := func(key string) {
		t.Helper()
		if err := j.commitWith(func() error { return nil }, func() {}, []write{set(key, "v")}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"k1", "k2", "k3", "k4"} {
		commit(k)
	}
	size := int64(len(readFile(t, j.f.Name())))
	if err := j.checkpoint(); err != nil {
		t.Fatal(err)
	}
	if data := readFile(t, j.f.Name()); int64(len(data)) != size || j.off != journalDataOffset || !bytes.Contains(data, []byte("k3")) {
		t.Errorf("after the checkpoint: %d bytes (were %d), journal at %d, old records kept %v; want the file as it was but its header",
			len(data), size, j.off, bytes.Contains(data, []byte("k3")))
	}
	if got := replayed(t, j.f.Name()); len(got) != 0 {
		t.Errorf("an emptied journal replays %q", got)
	}
	commit("n1") // records of the same length: the third old one is whole past the second new one
	commit("n2")
	if got, want := replayed(t, j.f.Name()), [][]string{{"n1=v"}, {"n2=v"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("replayed %q, want %q", got, want)
	}
}

// TestJournalStopsAtItsLastRecord: replay reads nothing past the last record written,
// even bytes left there that check under the current epoch (as data an earlier epoch
// stored could if epochs were guessable): each record is written with zeros after it.
func TestJournalStopsAtItsLastRecord(t *testing.T) {
	t.Parallel()
	j := newTestJournal(t)
	j.syncFiles = func(string) error { return nil }
	commit := func(ws ...write) {
		t.Helper()
		if err := j.commitWith(func() error { return nil }, func() {}, ws); err != nil {
			t.Fatal(err)
		}
	}
	commit(set("old", strings.Repeat("x", 200)))
	if err := j.checkpoint(); err != nil {
		t.Fatal(err)
	}
	next := j.off + int64(len(testRecord(nil, j.epoch, [][]write{{set("k", "v")}})))
	forged := testRecord(nil, j.epoch, [][]write{{set("forged", "!")}})
	if _, err := j.f.WriteAt(forged, next); err != nil { // where the next record ends
		t.Fatal(err)
	}
	commit(set("k", "v"))
	if got, want := replayed(t, j.f.Name()), [][]string{{"k=v"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("replayed %q, want %q", got, want)
	}
}

// TestJournalEpochsAreDrawn: each epoch is drawn at random, none repeats nor follows the
// one before, so that no stored bytes can be made to check under an epoch to come.
func TestJournalEpochsAreDrawn(t *testing.T) {
	t.Parallel()
	seen := map[uint64]bool{}
	prev := uint64(0)
	for range 1000 {
		e := newEpoch(prev)
		if e == 0 || seen[e] || e == prev+1 {
			t.Fatalf("epoch %d after %d (seen %v)", e, prev, seen[e])
		}
		seen[e], prev = true, e
	}
}

// TestJournalShrinksAfterARestatement: a checkpoint keeps the journal's blocks, unless a
// restatement made it larger than journalKeepBytes: then it truncates it.
func TestJournalShrinksAfterARestatement(t *testing.T) {
	t.Parallel()
	j := newTestJournal(t)
	j.syncFiles = func(string) error { return nil }
	if err := preallocate(j.f, journalKeepBytes+journalPrealloc); err != nil {
		t.Fatal(err)
	}
	j.allocated = journalKeepBytes + journalPrealloc
	if err := j.commitWith(func() error { return nil }, func() {}, []write{set("k", "v")}); err != nil {
		t.Fatal(err)
	}
	if err := j.checkpoint(); err != nil {
		t.Fatal(err)
	}
	if info, err := j.f.Stat(); err != nil || allocated(info) > journalPrealloc || j.allocated != journalPrealloc {
		t.Errorf("after the checkpoint: %v, %v, %d allocated; want it truncated to %d", info.Size(), err, j.allocated, journalPrealloc)
	}
}

// TestGarbageCollectionSurvivesLosingItsMoves simulates a machine crash in the middle of
// a value-log garbage collection: the moved values' bytes never reached the disk (the
// value-log files are put back as they were before the collection), while the pointers
// to them did. The journal's restatement gives every value back.
func TestGarbageCollectionSurvivesLosingItsMoves(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := setup(t, Options{Dir: dir, ValueThreshold: 64, ValueLogFileSize: 1 << 20, GCInterval: -1})
	text := func(i, round int) string { return fmt.Sprintf("%d-%d-%s", i, round, strings.Repeat("x", 4000)) }
	var tasks []*task.Task
	for i := range 300 {
		tk := mk(fmt.Sprintf("t%03d", i), "", i)
		tk.Inputs = map[string]any{"text": text(i, 0)}
		tasks = append(tasks, tk)
	}
	if err := s.Create(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 3; round++ { // two thirds of the values are rewritten: garbage
		for i := range 200 {
			if _, err := s.Update(ctx, fmt.Sprintf("t%03d", i), func(t *task.Task) error { t.Inputs = map[string]any{"text": text(i, round)}; return nil }); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Compactions count the garbage of each value-log file: the memtable goes to a
	// table at Close, and Badger opened alone compacts it into the next level at its own.
	opts := Options{Dir: dir, ValueThreshold: 64, ValueLogFileSize: 1 << 20, GCInterval: -1}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(opts.withDefaults().badgerOptions().WithCompactL0OnClose(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s = setup(t, opts)
	beforeGC, crashed := t.TempDir(), t.TempDir()
	copyDir(t, dir, beforeGC)
	vlogs := func(d string) []string { m, _ := filepath.Glob(filepath.Join(d, "*.vlog")); return m }
	before := vlogs(dir)
	stopped := make(chan struct{})
	close(stopped)
	if n, err := runValueLogGC(s.db, stopped); n != 0 || err != nil || !slices.Equal(vlogs(dir), before) {
		t.Fatalf("a stopped collection: %d rewritten, %v, files %q; want none", n, err, vlogs(dir))
	}
	s.testAfterCollect = func() { // the crash: after the moves, before the checkpoint that ends the collection
		if slices.Equal(vlogs(dir), before) {
			t.Errorf("the collection rewrote nothing: %q", before)
		}
		copyDir(t, dir, crashed)
	}
	if err := s.collectGarbage(nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range vlogs(crashed) { // the moves' bytes are lost
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range vlogs(beforeGC) {
		writeTestFile(t, filepath.Join(crashed, filepath.Base(f)), string(readFile(t, f)))
	}
	r := setup(t, Options{Dir: crashed, ValueThreshold: 64, ValueLogFileSize: 1 << 20, GCInterval: -1})
	for i := range 300 {
		want := text(i, 3)
		if i >= 200 {
			want = text(i, 0)
		}
		got, err := r.Get(ctx, fmt.Sprintf("t%03d", i))
		if err != nil || got.Inputs["text"] != want {
			t.Fatalf("task %d after the crash: %v", i, statusOf(got, err))
		}
	}
}

// TestInValueLog: a value is known to be in the value log from Badger's estimates alone,
// whatever the threshold it was written under.
func TestInValueLog(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := setup(t, Options{Dir: dir, ValueThreshold: 256})
	big := mk("big", "", 0)
	big.Inputs = map[string]any{"text": strings.Repeat("x", 300)}
	if err := s.Create(ctx, []*task.Task{big, mk("small", "", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := setup(t, Options{Dir: dir}) // a higher threshold now
	got := map[string]bool{}
	err := r.db.View(func(txn *badger.Txn) error {
		for _, id := range []string{"big", "small"} {
			item, err := txn.Get(taskKey(id))
			if err != nil {
				return err
			}
			got[id] = inValueLog(item)
		}
		return nil
	})
	if err != nil || !got["big"] || got["small"] {
		t.Errorf("in the value log: %v, %v; want big only", got, err)
	}
}

// writeValueLogGarbage stores a 512 KiB value and rewrites it twice: with
// ValueLogFileSize 1 MiB, the value log's files then hold two dead copies, and a
// collection is due.
func writeValueLogGarbage(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	inputs := map[string]any{"text": strings.Repeat("y", 1<<19)}
	tk := mk("x", "", 0)
	tk.Inputs = inputs
	if err := s.Create(ctx, []*task.Task{tk}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.Update(ctx, "x", func(t *task.Task) error { t.Inputs = inputs; return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCollectionBacksOff: a collection that rewrote nothing (Badger knows no file's
// garbage before a compaction) is not tried again, with its restatement, nor its read of
// every key, until the value log has grown by a file.
func TestCollectionBacksOff(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{Dir: t.TempDir(), ValueThreshold: 64, ValueLogFileSize: 1 << 20, GCInterval: -1})
	writeValueLogGarbage(t, s)
	logs, err := valueLogs(s.opts.Dir)
	disk, _ := logs.space()
	live, lerr := s.valueLogLive()
	if err != nil || lerr != nil || disk <= 2*live {
		t.Fatalf("value log %d bytes, %d live, %v %v: want a collection due", disk, live, err, lerr)
	}
	jobs := s.c.jobs.Load()
	if err := s.collectGarbage(nil); err != nil {
		t.Fatal(err)
	}
	if s.gcQuietBelow == 0 || !s.gcQuietUntil.IsZero() || s.c.jobs.Load() != jobs+2 {
		t.Fatalf("first collection: quiet below %d, %d jobs; want a restatement and a release", s.gcQuietBelow, s.c.jobs.Load()-jobs)
	}
	jobs, scans := s.c.jobs.Load(), s.liveScans
	if err := s.collectGarbage(nil); err != nil {
		t.Fatal(err)
	}
	if s.c.jobs.Load() != jobs || s.liveScans != scans {
		t.Errorf("a second collection ran %d jobs and read every key %d times; want neither until the value log grows",
			s.c.jobs.Load()-jobs, s.liveScans-scans)
	}
}

// TestCollectionChecksLiveValuesSeldom: a collection that finds the value log's files
// under twice the space of their live values reads every key of the store to know it,
// so the next ones do not read them again until the files grow by one, or an hour
// (valueLogRecheck) has passed: an idle server read every key every 10 minutes.
func TestCollectionChecksLiveValuesSeldom(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := setup(t, Options{Dir: t.TempDir(), ValueThreshold: 64, ValueLogFileSize: 1 << 20, GCInterval: -1,
		Now: func() time.Time { return now }})
	n := 0
	write := func(tasks int) { // live, half a file each
		for range tasks {
			x := mk(fmt.Sprintf("x%d", n), "", n)
			x.Inputs = map[string]any{"text": strings.Repeat("y", 1<<19)}
			if err := s.Create(t.Context(), []*task.Task{x}); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	write(3)
	for _, c := range []struct {
		after  time.Duration
		writes int // tasks written before
		scans  int
	}{
		{0, 0, 1}, {10 * time.Minute, 0, 0}, {49 * time.Minute, 0, 0}, {time.Minute, 0, 1}, {10 * time.Minute, 0, 0},
		{time.Minute, 2, 1}, // the files grew by one
	} {
		now = now.Add(c.after)
		write(c.writes)
		scans, jobs := s.liveScans, s.c.jobs.Load()
		if err := s.collectGarbage(nil); err != nil {
			t.Fatal(err)
		}
		if s.liveScans-scans != c.scans || s.c.jobs.Load() != jobs {
			t.Fatalf("a collection %v later, %d tasks written, read every key %d times and ran %d jobs, want %d and none",
				c.after, c.writes, s.liveScans-scans, s.c.jobs.Load()-jobs, c.scans)
		}
	}
}

// TestCloseStopsACollectionFirst: Close lets a collection under way end before it
// closes the queue the collection commits through, so the collection's release (the
// checkpoint that ends its hold on the journal) is committed and nothing fails.
func TestCloseStopsACollectionFirst(t *testing.T) {
	t.Parallel()
	var logs logbuf.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	s := setup(t, Options{Dir: t.TempDir(), Logger: logger, ValueThreshold: 64, ValueLogFileSize: 1 << 20, GCInterval: -1})
	writeValueLogGarbage(t, s)
	collecting, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.testAfterCollect = func() { once.Do(func() { close(collecting); <-resume }) }
	checkpoints := s.journal.checkpoints.Load()
	s.gcStop, s.gcDone = make(chan struct{}), make(chan struct{}) // as Open wires a GCInterval
	go s.gcLoop(time.Millisecond)
	<-collecting
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	time.Sleep(100 * time.Millisecond) // Close gets to its first wait
	close(resume)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "garbage collection failed") || s.journal.checkpoints.Load() < checkpoints+1 {
		t.Errorf("the collection's release did not commit (%d checkpoints, were %d):\n%s", s.journal.checkpoints.Load(), checkpoints, logs.String())
	}
}

// TestAllocatedCountsHoles: a sparse file (the newest value-log file is mapped at twice
// its size) counts the space it takes, not its length.
func TestAllocatedCountsHoles(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if got := allocated(info); runtime.GOOS == "linux" && got >= 1<<20 {
		t.Errorf("allocated %d bytes of a 64 MiB file holding 4 KiB", got)
	}
}

// TestJournalDamageIsNotAnEnd: a record that fails its checksum ends the replay when it
// is the last (a torn write), and fails it with ErrJournalDamaged when the record after
// it checks. A damaged length cannot be told from an end.
func TestJournalDamageIsNotAnEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		record  int // the damaged record, from 0
		at      int // the damaged byte, from the record's start
		damaged bool
		want    [][]string
	}{
		{name: "payload of a middle record", record: 1, at: recordHeaderSize + 3, damaged: true, want: [][]string{{"a=1"}}},
		{name: "checksum of a middle record", record: 1, at: 5, damaged: true, want: [][]string{{"a=1"}}},
		{name: "payload of the first record", record: 0, at: recordHeaderSize + 1, damaged: true},
		{name: "payload of the last record", record: 2, at: recordHeaderSize + 3, want: [][]string{{"a=1"}, {"b=2"}}},
		{name: "length of a middle record", record: 1, at: 0, want: [][]string{{"a=1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := newTestJournal(t)
			var starts []int64
			for _, w := range []write{set("a", "1"), set("b", "2"), set("c", "3")} {
				starts = append(starts, j.off)
				if err := j.commitWith(func() error { return nil }, func() {}, []write{w}); err != nil {
					t.Fatal(err)
				}
			}
			data := readFile(t, j.f.Name())
			data[starts[tt.record]+int64(tt.at)] ^= 0x40
			var got [][]string
			_, n, err := replayJournal(bytes.NewReader(data), int64(len(data)), func(ws []write) error {
				got = append(got, writeStrings(ws))
				return nil
			})
			if errors.Is(err, ErrJournalDamaged) != tt.damaged || (err != nil && !tt.damaged) {
				t.Fatalf("replay: %v, want damaged %v", err, tt.damaged)
			}
			if tt.damaged && !strings.Contains(err.Error(), fmt.Sprintf("record %d (at byte %d)", tt.record+1, starts[tt.record])) {
				t.Errorf("error %q does not name record %d at byte %d", err, tt.record+1, starts[tt.record])
			}
			if n != len(tt.want) || !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("replayed %d: %q, want %q", n, got, tt.want)
			}
		})
	}
}

// TestOpenRefusesADamagedJournal: a store whose journal holds a damaged record before
// an intact one does not open, says why, and changes nothing: neither the journal nor
// the store, to which the records before the damage would bring back older values.
// With the journal moved aside, it opens as its own files kept it.
func TestOpenRefusesADamagedJournal(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := setup(t, Options{Dir: dir})
	var starts []int64
	for _, write := range []func() error{
		func() error { return s.Create(ctx, []*task.Task{mk("a", "", 0)}) },
		func() error {
			_, err := s.Update(ctx, "a", func(t *task.Task) error { return t.Start(time.Now()) })
			return err
		},
		func() error { return s.Create(ctx, []*task.Task{mk("b", "", 1)}) },
	} {
		starts = append(starts, s.journal.off)
		if err := write(); err != nil {
			t.Fatal(err)
		}
	}
	crashed := t.TempDir()
	copyDir(t, dir, crashed) // Badger's files as the page cache holds them: every commit
	path := filepath.Join(crashed, journalName)
	data := readFile(t, path)
	data[starts[1]+recordHeaderSize+2] ^= 1
	writeTestFile(t, path, string(data))
	_, err := Open(Options{Dir: crashed})
	if !errors.Is(err, ErrJournalDamaged) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %v, want ErrJournalDamaged naming %s", err, path)
	}
	if !bytes.Equal(readFile(t, path), data) {
		t.Error("the failed Open changed the journal")
	}
	// The way out docs/configuration.md gives: move the journal aside.
	if err := os.Rename(path, path+".damaged"); err != nil {
		t.Fatal(err)
	}
	n := setup(t, Options{Dir: crashed})
	if a, err := n.Get(ctx, "a"); err != nil || a.Status != task.InProgress {
		t.Errorf("a after the journal was moved aside: %v, %v; want it in_progress, as the store's files hold it", statusOf(a, err), err)
	}
	if page, _, err := n.List(ctx, store.Filter{Status: task.Pending}); err != nil || len(page) != 1 || page[0].ID != "b" {
		t.Errorf("pending tasks: %v, %v; want b alone", page, err)
	}
}

// TestCheckpointSkipsSealedValueLogs checks which files of the data directory a
// checkpoint syncs: not the tables, nor the value-log files older than the newest one
// an earlier checkpoint synced, which Badger writes no more (journal.sealedBelow).
func TestCheckpointSkipsSealedValueLogs(t *testing.T) {
	t.Parallel()
	j := newTestJournal(t)
	var synced []string
	j.syncFile = func(path string) error {
		synced = append(synced, filepath.Base(path))
		return nil
	}
	for _, name := range []string{"000001.vlog", "000002.vlog", "000007.sst", "MANIFEST", "x.vlog"} {
		writeTestFile(t, filepath.Join(j.dir, name), "data")
	}
	for _, step := range []struct {
		name string
		add  string // a file written before the checkpoint
		want []string
	}{
		{name: "first checkpoint: every value-log file",
			want: []string{"000001.vlog", "000002.vlog", "MANIFEST", "x.vlog"}},
		{name: "the newest file again, the older not",
			want: []string{"000002.vlog", "MANIFEST", "x.vlog"}},
		{name: "a newer file started", add: "000003.vlog",
			want: []string{"000002.vlog", "000003.vlog", "MANIFEST", "x.vlog"}},
		{name: "the newest file again", add: "000008.sst",
			want: []string{"000003.vlog", "MANIFEST", "x.vlog"}},
	} {
		if step.add != "" {
			writeTestFile(t, filepath.Join(j.dir, step.add), "data")
		}
		synced = nil
		if err := j.checkpoint(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(synced, step.want) {
			t.Errorf("%s: synced %v, want %v", step.name, synced, step.want)
		}
	}
}

// TestOpenTakesValueLogsAsSynced checks where Open starts syncing value-log files from:
// the two newest after a clean close (Badger has just started the newest); after
// replaying a journal a crash left, or after a process that did not sync (NoSync), Open
// syncs every one at once and starts from the newest.
func TestOpenTakesValueLogsAsSynced(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		crash  bool
		noSync bool   // the second process
		want   uint64 // with the third Open's value-log file the newest
	}{
		{name: "after a close", want: 2},
		{name: "after a crash", crash: true, want: 3},
		{name: "after a process without syncs", noSync: true, want: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := Options{Dir: dir, ValueThreshold: 64, ValueLogFileSize: 1 << 20, MemTableSize: 1 << 20} // tasks in the value log
			for run := range 2 {
				o := opts
				o.Dir, o.NoSync = dir, tc.noSync && run == 1
				s, err := Open(o)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Create(t.Context(), []*task.Task{mk(fmt.Sprint("t", run), "", 0)}); err != nil {
					t.Fatal(err)
				}
				if tc.crash && run == 1 {
					image := t.TempDir()
					copyDir(t, dir, image) // the files as a crash leaves them, journal included
					_ = s.Close()
					dir = image
					continue
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			opts.Dir = dir
			s := setup(t, opts)
			if got, _ := valueLogs(dir); got.newest != 3 {
				t.Fatalf("newest value-log file %d, want 3", got.newest)
			}
			if got := s.journal.sealedBelow; got != tc.want {
				t.Errorf("sealedBelow = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestFreshStoreOpensWithoutACheckpoint checks that Open of a new data directory syncs
// nothing but the journal's name: with no value-log file older than the one Badger has
// just started, there is nothing a checkpoint would make durable, and every process of
// a fresh data dir would pay for one.
func TestFreshStoreOpensWithoutACheckpoint(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{Dir: t.TempDir()})
	if got := s.journal.checkpoints.Load(); got != 0 {
		t.Errorf("%d checkpoints at the Open of a new data directory, want 0", got)
	}
	if s.journal.sealedBelow != 0 {
		t.Errorf("sealedBelow = %d, want 0: the first checkpoint syncs every value-log file", s.journal.sealedBelow)
	}
}

// testRecord is appendRecord's record, compressed as the journal writes it.
func testRecord(buf []byte, epoch uint64, writes [][]write) []byte {
	var scratch []byte
	rec, _ := appendRecord(buf, epoch, writes, &scratch)
	return rec
}
