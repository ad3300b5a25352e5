package badgerstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// journalModes are the two ways the journal writes its file: through the page cache,
// synced, and directly (direct.go), where the test's file system takes direct writes.
var journalModes = []struct {
	name   string
	direct bool
}{{"page cache", false}, {"direct", true}}

// newModeJournal is newTestJournal writing directly when direct is set; it skips the
// test where the file system takes no direct writes.
func newModeJournal(t testing.TB, direct bool) *journal {
	t.Helper()
	if !direct {
		return newTestJournal(t)
	}
	j := newTestJournal(t)
	j.useDirectWrites(j.f.Name())
	if j.direct == nil {
		t.Skip("no direct writes here")
	}
	d := j.direct
	t.Cleanup(func() { d.close() }) // closed already if the journal fell back
	return j
}

// TestJournalModesReplay commits records of many sizes in both modes, around a
// checkpoint, with one that ends exactly at a block's end, one larger than a zero fill
// and one Badger refuses: what replays is every committed record in order, the refused
// one's bytes are zeros, and both modes leave the same records.
func TestJournalModesReplay(t *testing.T) {
	t.Parallel()
	ok := func() error { return nil }
	record := func(key string, n int) []write { return []write{set(key, noise(n))} }
	// The second record ends where the first block of records ends (a value of 128
	// bytes or more has a length of two bytes, as the second's).
	lenOf := func(ws []write) int64 { return int64(len(testRecord(nil, 0, [][]write{ws}))) }
	first := record("a", 10)
	second := record("b", int(directBlock-lenOf(first)-lenOf(record("b", 200))+200))
	before := [][]write{first, second, record("c", 1), record("d", 5000), record("e", 9000)}
	after := [][]write{record("f", 3), record("g", zeroChunkMax+12345), record("h", 700), record("i", 1)}
	for _, m := range journalModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			j := newModeJournal(t, m.direct)
			j.syncFiles = func(string) error { return nil }
			commit := func(ws []write) {
				t.Helper()
				if err := j.commitWith(ok, func() {}, ws); err != nil {
					t.Fatal(err)
				}
			}
			for _, ws := range before {
				commit(ws)
			}
			if got := journalDataOffset + lenOf(first) + lenOf(second); got != journalDataOffset+directBlock {
				t.Fatalf("the second record ends at %d, want a block's end", got)
			}
			if err := j.checkpoint(); err != nil {
				t.Fatal(err)
			}
			for _, ws := range after {
				commit(ws)
			}
			start := j.off
			refused := record("x", 9000) // from the block of "i" over three more: its first is read back
			if err := j.commitWith(func() error { return errors.New("badger refused") }, func() {}, refused); err == nil {
				t.Fatal("the refused commit succeeded")
			}
			data := readFile(t, j.f.Name())
			if rest := data[start : start+lenOf(refused)]; slices.ContainsFunc(rest, func(b byte) bool { return b != 0 }) {
				t.Errorf("the refused record is not zeroed whole")
			}
			var want [][]string
			for _, ws := range after {
				want = append(want, writeStrings(ws))
			}
			if got := replayedBytes(t, data); !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("replayed %d records, want the %d after the checkpoint", len(got), len(want))
			}
			if (j.direct != nil) != m.direct {
				t.Errorf("writes directly: %v, want %v", j.direct != nil, m.direct)
			}
		})
	}
}

// noise returns n bytes that do not compress, the same for the same n: records of a
// known length (packRecord leaves them as they are).
func noise(n int) string {
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return string(b)
}

// syncFills has d run its fills at once, on the writer's goroutine, as tests that
// replace its pwrite need.
func syncFills(d *directWriter) { d.spawn = func(fill func()) { fill() } }

// newTestDirectWriter returns a new empty file and a directWriter of it; it skips the
// test where the file system takes no direct writes.
func newTestDirectWriter(t *testing.T) (*os.File, *directWriter) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	df, err := openDirect(path)
	if err != nil {
		t.Skipf("no direct writes here: %v", err)
	}
	d := newDirectWriter(df, 0)
	t.Cleanup(func() { d.close() })
	return f, d
}

// TestDirectWriterMatchesItsModel writes at random through a directWriter, as the
// journal does (appends at the end, the zeros of a refused record over it, a header and
// a first record header at the file's start, an emptied file), and compares the file
// with a model of what it must hold after each write: the bytes written, zeros past the
// last one in its block, and what earlier writes left elsewhere.
func TestDirectWriterMatchesItsModel(t *testing.T) {
	t.Parallel()
	const size = 2 << 20
	f, d := newTestDirectWriter(t)
	model := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	empty := func() {
		d.stopFill() // as the journal's reset does
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if err := preallocate(f, size); err != nil {
			t.Fatal(err)
		}
		clear(model)
		d.emptied(0)
	}
	empty()
	write := func(p []byte, off int64) {
		t.Helper()
		if err := d.writeAt(p, off, size); err != nil {
			t.Fatalf("write %d bytes at %d: %v", len(p), off, err)
		}
		copy(model[off:], p)
		clear(model[off+int64(len(p)) : roundUpBlock(off+int64(len(p)))])
		if zeroedOf(d) < roundUpBlock(off+int64(len(p))) {
			t.Fatalf("write %d bytes at %d: zeroed up to %d, below its end", len(p), off, zeroedOf(d))
		}
	}
	var end, last int64 = journalDataOffset, journalDataOffset // the records' end, and the last one's start
	for i := range 300 {
		op := rng.IntN(20)
		switch {
		case op == 0: // a restart: the header, a first record header
			write([]byte("header"), 0)
			write(make([]byte, recordTerminator), journalDataOffset)
			end, last = journalDataOffset, journalDataOffset
		case op == 1 && last < end: // a refused record's zeros
			write(make([]byte, end-last), last)
			end = last
		case op == 2:
			empty()
			end, last = journalDataOffset, journalDataOffset
		default:
			n := rng.IntN(6000) + 1
			if op == 3 {
				n = zeroChunkMax + rng.IntN(100_000)
			}
			if end+int64(n)+recordTerminator > size {
				empty()
				end, last = journalDataOffset, journalDataOffset
			}
			p := make([]byte, n+recordTerminator)
			for k := range n {
				p[k] = byte(rng.IntN(255) + 1)
			}
			write(p, end)
			last, end = end, end+int64(n)
		}
		if got := readFile(t, f.Name()); !bytes.Equal(got[:min(len(got), size)], model[:len(got)]) {
			at := 0
			for at < len(got) && got[at] == model[at] {
				at++
			}
			t.Fatalf("operation %d (%d): the file differs from its model at byte %d", i, op, at)
		}
	}
}

// TestDirectWriterReadsNothingBack: a write that starts in the block before the last one
// written (the last held only the zeros after a record) takes that block's bytes from
// the writer's copy, not from the disk.
func TestDirectWriterReadsNothingBack(t *testing.T) {
	t.Parallel()
	f, d := newTestDirectWriter(t)
	if err := preallocate(f, 1<<20); err != nil {
		t.Fatal(err)
	}
	// A record ending 3 bytes before a block's end, its 8 zeros reaching into the next.
	rec := make([]byte, 2*directBlock-3+recordTerminator)
	for i := range len(rec) - recordTerminator {
		rec[i] = 'r'
	}
	if err := d.writeAt(rec, 0, 1<<20); err != nil {
		t.Fatal(err)
	}
	next := int64(len(rec) - recordTerminator)
	if err := d.writeAt([]byte("next"), next, 1<<20); err != nil {
		t.Fatal(err)
	}
	if d.scratch != nil {
		t.Error("the writer read its block back from the disk")
	}
	if got := readFile(t, f.Name())[next-3 : next+4]; string(got) != "rrrnext" {
		t.Errorf("the file holds %q around the second write, want %q", got, "rrrnext")
	}
}

// TestDirectWriterZeroesAhead: records land on zeros written ahead of them by fills
// that start after a record's write, each twice as long as the last up to zeroChunkMax,
// none past the allocation, none kept in the writer's buffer; and the write that opens a
// journal (its header) starts none.
func TestDirectWriterZeroesAhead(t *testing.T) {
	t.Parallel()
	f, d := newTestDirectWriter(t)
	const allocated = 3<<20 + 100
	if err := preallocate(f, allocated); err != nil {
		t.Fatal(err)
	}
	syncFills(d)
	var fills, aheads []int64
	var end int64 // of the write being made
	spawn := d.spawn
	d.spawn = func(fill func()) {
		from := zeroedOf(d)
		aheads = append(aheads, from-end)
		spawn(fill)
		fills = append(fills, zeroedOf(d)-from)
	}
	d.emptied(journalDataOffset)
	if err := d.writeAt([]byte("header"), 0, 0); err != nil || len(fills) > 0 {
		t.Fatalf("the header's write: %v, fills %v; want none", err, fills)
	}
	for off := int64(journalDataOffset); off < allocated-100; off += 1000 {
		end = roundUpBlock(off + 100)
		if err := d.writeAt(make([]byte, 100), off, allocated); err != nil {
			t.Fatal(err)
		}
		if end := roundUpBlock(off + 100); zeroedOf(d) <= end && zeroedOf(d) < allocated-allocated%directBlock {
			t.Fatalf("after the write at %d, zeroed up to %d: nothing ahead of the next record", off, zeroedOf(d))
		}
	}
	want := []int64{zeroChunkMin, 2 * zeroChunkMin, 4 * zeroChunkMin, 8 * zeroChunkMin, zeroChunkMax}
	if len(fills) < len(want) || !slices.Equal(fills[:len(want)], want) || slices.Max(fills) > zeroChunkMax {
		t.Errorf("zero fills of %v bytes, want them doubling from %d to %d", fills, zeroChunkMin, zeroChunkMax)
	}
	// Each fill after the first starts while zeros are left ahead of the last write,
	// less than half of its chunk: the next records need not wait for it.
	for i, ahead := range aheads[1:] {
		if chunk := min(int64(zeroChunkMin)<<(i+1), zeroChunkMax); ahead <= 0 || ahead >= chunk/2 {
			t.Errorf("fill %d started with %d bytes zeroed ahead of the last write, want some, less than half its chunk of %d", i+2, ahead, chunk)
		}
	}
	if max := int64(allocated) / directBlock * directBlock; zeroedOf(d) != max {
		t.Errorf("zeroed up to %d, want the allocation's last whole block %d", zeroedOf(d), max)
	}
	if cap(d.buf) >= zeroChunkMin {
		t.Errorf("the writer keeps a buffer of %d bytes after its fills, want the blocks of its records alone", cap(d.buf))
	}
}

// TestDirectWriterWaitsForItsFill: while a fill runs on its goroutine, a write below
// the zeros it has written goes on at once, and one that reaches the blocks it is
// writing waits until they are written. A fill that fails stops the fills, and one the
// disk refuses as direct refuses the next write untried.
func TestDirectWriterWaitsForItsFill(t *testing.T) {
	t.Parallel()
	f, d := newTestDirectWriter(t)
	const allocated = 1 << 20
	if err := preallocate(f, allocated); err != nil {
		t.Fatal(err)
	}
	d.emptied(journalDataOffset)
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	release := make(chan struct{})
	pwrite := d.pwrite
	d.pwrite = func(b []byte, off int64) (int, error) {
		if off >= 2*directBlock { // the fill's: the records stay in the first two blocks
			<-release
			note("fill")
		} else {
			note(fmt.Sprintf("write at %d", off))
		}
		return pwrite(b, off)
	}
	if err := d.writeAt(make([]byte, 100), journalDataOffset, allocated); err != nil { // starts a fill
		t.Fatal(err)
	}
	if err := d.writeAt(make([]byte, 100), journalDataOffset+100, allocated); err != nil { // below it: no wait
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- d.writeAt(make([]byte, directBlock), journalDataOffset+200, allocated) }() // into it: waits
	time.Sleep(20 * time.Millisecond)
	note("released")
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d.stopFill()
	want := []string{"write at 4096", "write at 4096", "released", "fill", "write at 4096"}
	if !slices.Equal(order[:len(want)], want) {
		t.Errorf("writes in the order %q, want %q", order, want)
	}

	for _, tc := range []struct {
		err     error
		refused bool
	}{{syscall.EIO, false}, {syscall.EINVAL, true}} {
		d.emptied(journalDataOffset)
		syncFills(d)
		d.pwrite = func(b []byte, off int64) (int, error) {
			if off >= 2*directBlock {
				return 0, tc.err
			}
			return pwrite(b, off)
		}
		err := d.writeAt(make([]byte, 100), journalDataOffset, allocated) // its fill fails
		if err == nil {
			err = d.writeAt(make([]byte, 100), journalDataOffset+100, allocated)
		}
		if errors.Is(err, errDirectRefused) != tc.refused || (err != nil) != tc.refused || fillingOf(d) {
			t.Errorf("after a fill failed with %v: the next write %v, filling %v; want it refused: %v", tc.err, err, fillingOf(d), tc.refused)
		}
		// A checkpoint's restart lets fills try again after an error of the disk, not
		// after a refusal.
		d.retryFills()
		d.pwrite = pwrite
		before := zeroedOf(d)
		err = d.writeAt(make([]byte, 100), journalDataOffset+200, allocated)
		if filled := zeroedOf(d) > before; err != nil && !tc.refused || filled == tc.refused {
			t.Errorf("after a fill failed with %v and a retry: the next write %v, zeros written ahead %v; want them: %v", tc.err, err, filled, !tc.refused)
		}
	}
}

// TestJournalResetStopsItsFill: a journal emptied (reset, at Open and Close) while a fill
// runs is left empty: the fill ends before the file is truncated, and writes nothing
// into it after.
func TestJournalResetStopsItsFill(t *testing.T) {
	t.Parallel()
	j := newModeJournal(t, true)
	d := j.direct
	release := make(chan struct{})
	d.pwrite = func(b []byte, off int64) (int, error) {
		if off >= 2*directBlock { // the fill's: the record stays in the first data block
			<-release
		}
		return d.f.WriteAt(b, off)
	}
	commitAll(t, j, "a") // starts a fill, held
	reset := make(chan error)
	go func() { reset <- j.reset(0) }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-reset; err != nil {
		t.Fatal(err)
	}
	d.stopFill()
	if info, err := j.f.Stat(); err != nil || info.Size() != journalHeaderSize {
		t.Errorf("after the reset the journal holds %d bytes (%v), want its header's %d", info.Size(), err, journalHeaderSize)
	}
}

// TestJournalCheckpointRetriesFills: a checkpoint lets fills start again after one
// failed with an error of the disk.
func TestJournalCheckpointRetriesFills(t *testing.T) {
	t.Parallel()
	j := newModeJournal(t, true)
	j.syncFiles = func(string) error { return nil }
	d := j.direct
	d.mu.Lock()
	d.fillErr = syscall.EIO
	d.mu.Unlock()
	if err := j.checkpoint(); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fillErr != nil {
		t.Errorf("after a checkpoint the fills stay off: %v", d.fillErr)
	}
}

// TestJournalFallsBackFromRefusedDirectWrites: a direct write the disk refuses (EINVAL),
// from the first or later in the journal's life, a failed record's zeros or a
// checkpoint's header, is written through the page cache, and so is every later one;
// the store says so once, and replay finds every acknowledged record.
func TestJournalFallsBackFromRefusedDirectWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// act commits through j, whose direct writes refuse is called to refuse from
		// then on, and returns the records replay must find.
		act func(t *testing.T, j *journal, refuse func()) [][]string
	}{
		{"from the first record", func(t *testing.T, j *journal, refuse func()) [][]string {
			refuse()
			commitAll(t, j, "a", "b", "c")
			return [][]string{{"a=1"}, {"b=1"}, {"c=1"}}
		}},
		{"after records written directly", func(t *testing.T, j *journal, refuse func()) [][]string {
			commitAll(t, j, "a", "b")
			refuse()
			commitAll(t, j, "c", "d")
			return [][]string{{"a=1"}, {"b=1"}, {"c=1"}, {"d=1"}}
		}},
		{"the zeros of a record Badger refused", func(t *testing.T, j *journal, refuse func()) [][]string {
			commitAll(t, j, "a") // and the zeros ahead of the next record
			d := j.direct
			d.pwrite = func(b []byte, off int64) (int, error) { // the record goes through, not its zeros
				refuse()
				return d.f.WriteAt(b, off)
			}
			if err := j.commitWith(func() error { return errors.New("badger refused") }, func() {}, []write{set("x", "1")}); err == nil {
				t.Fatal("the refused commit succeeded")
			}
			return [][]string{{"a=1"}}
		}},
		{"a checkpoint's header", func(t *testing.T, j *journal, refuse func()) [][]string {
			commitAll(t, j, "a")
			refuse()
			if err := j.checkpoint(); err != nil {
				t.Fatal(err)
			}
			commitAll(t, j, "b")
			return [][]string{{"b=1"}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j := newModeJournal(t, true)
			j.syncFiles = func(string) error { return nil }
			var logs logbuf.Buffer
			j.logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
			refusals := 0
			d := j.direct
			syncFills(d)
			refuse := func() {
				d.pwrite = func([]byte, int64) (int, error) { refusals++; return 0, syscall.EINVAL }
			}
			want := tc.act(t, j, refuse)
			if got := replayed(t, j.f.Name()); !slices.EqualFunc(got, want, slices.Equal) || j.direct != nil || refusals != 1 {
				t.Errorf("replayed %q, direct %v, %d refusals; want %q, through the page cache after one refusal", got, j.direct != nil, refusals, want)
			}
			if n := strings.Count(logs.String(), "cannot write directly"); n != 1 {
				t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
			}
		})
	}
}

// commitAll commits one record "k=1" for each key k through j.
func commitAll(t *testing.T, j *journal, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := j.commitWith(func() error { return nil }, func() {}, []write{set(k, "1")}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestJournalTriesDirectWritesFirst: a journal writes directly only when its first
// direct write succeeds; one that fails, whatever the error, leaves the journal writing
// through the page cache with the descriptor closed.
func TestJournalTriesDirectWritesFirst(t *testing.T) {
	t.Parallel()
	for _, failure := range []error{nil, syscall.EIO, syscall.EOPNOTSUPP, syscall.EINVAL} {
		t.Run(fmt.Sprint(failure), func(t *testing.T) {
			t.Parallel()
			j := newTestJournal(t)
			df, err := openDirect(j.f.Name())
			if err != nil {
				t.Skipf("no direct writes here: %v", err)
			}
			d := newDirectWriter(df, journalDataOffset)
			if failure != nil {
				d.pwrite = func([]byte, int64) (int, error) { return 0, failure }
			}
			err = j.tryDirect(d)
			if (err == nil) != (failure == nil) || (j.direct != nil) != (failure == nil) {
				t.Fatalf("tryDirect: %v, writes directly %v; want %v", err, j.direct != nil, failure == nil)
			}
			if failure == nil && zeroedOf(d) != journalDataOffset {
				t.Errorf("the first write zeroed up to %d: want no zeros before the first record", zeroedOf(d))
			}
			if _, serr := df.Stat(); (failure != nil) != errors.Is(serr, os.ErrClosed) {
				t.Errorf("the descriptor after tryDirect: %v", serr)
			}
			commitAll(t, j, "a")
			if got := replayed(t, j.f.Name()); len(got) != 1 {
				t.Errorf("replayed %q, want the one record", got)
			}
		})
	}
}

// TestStoreJournalWritesDirectly: a store on a file system that takes direct writes
// writes its journal directly, and says so at debug level.
func TestStoreJournalWritesDirectly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := openDirect(probe)
	if err != nil {
		t.Skipf("no direct writes here: %v", err)
	}
	d.Close()
	var logs logbuf.Buffer
	s := setup(t, Options{Dir: dir, Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})})
	if s.journal.direct == nil {
		t.Fatal("the journal writes through the page cache")
	}
	if !strings.Contains(logs.String(), "journal writes directly") {
		t.Errorf("the store does not say how its journal writes:\n%s", logs.String())
	}
	if err := s.Create(t.Context(), []*task.Task{mk("a", "", 0)}); err != nil {
		t.Fatal(err)
	}
	if got := replayed(t, filepath.Join(dir, journalName)); len(got) == 0 {
		t.Errorf("the journal holds no record of the create")
	}
}

// BenchmarkJournalCommit is the journal's part of a commit of a chain hop's size (about
// 1.5 KB of writes, which compress to about 750 bytes, as a chain hop's record of the
// WAT echo does) through the page cache, synced, and directly; compare with
// BenchmarkFsync (host/engine), one fsync of a small append, the floor of a hop.
func BenchmarkJournalCommit(b *testing.B) {
	ws := []write{set("task", noise(700)+strings.Repeat("v", 800))}
	for _, m := range journalModes {
		b.Run(m.name, func(b *testing.B) {
			j := newModeJournal(b, m.direct)
			j.syncFiles = func(string) error { return nil }
			j.checkpointAt = journalCheckpointBytes
			for b.Loop() {
				if err := j.commitWith(func() error { return nil }, func() {}, ws); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// zeroedOf is d.zeroed, read as its fills write it.
func zeroedOf(d *directWriter) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.zeroed
}

// fillingOf is d.filling, read as its fills write it.
func fillingOf(d *directWriter) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.filling
}
