package badgerstore

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

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
	path := filepath.Join(t.TempDir(), journalName)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	d, err := openDirect(path)
	if err != nil {
		t.Skipf("no direct writes here: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	j := newJournal(filepath.Dir(path), f, hclog.NewNullLogger(), 0)
	j.writeDirectly(d)
	j.checkpointAt = 1 << 40
	if err := j.reset(journalPrealloc); err != nil {
		t.Fatal(err)
	}
	return j
}

// TestJournalModesReplay commits records of many sizes in both modes, around a
// checkpoint, with one that ends exactly at a block's end, one larger than a zero fill
// and one Badger refuses: what replays is every committed record in order, the refused
// one's bytes are zeros, and both modes leave the same records.
func TestJournalModesReplay(t *testing.T) {
	t.Parallel()
	ok := func() error { return nil }
	record := func(key string, n int) []write { return []write{set(key, strings.Repeat("v", n))} }
	// The second record ends where the first block of records ends (a value of 128
	// bytes or more has a length of two bytes, as the second's).
	lenOf := func(ws []write) int64 { return int64(len(appendRecord(nil, 0, [][]write{ws}))) }
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
			refused := record("x", 6000) // from the block of "i" into the next ones
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

// TestDirectWriterMatchesItsModel writes at random through a directWriter, as the
// journal does (appends at the end, the zeros of a refused record over it, a header and
// a first record header at the file's start, an emptied file), and compares the file
// with a model of what it must hold after each write: the bytes written, zeros past the
// last one in its block, and what earlier writes left elsewhere.
func TestDirectWriterMatchesItsModel(t *testing.T) {
	t.Parallel()
	const size = 4 << 20
	path := filepath.Join(t.TempDir(), "journal")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	df, err := openDirect(path)
	if err != nil {
		t.Skipf("no direct writes here: %v", err)
	}
	d := newDirectWriter(df)
	defer d.close()
	model := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	empty := func() {
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
		if d.zeroed < roundUpBlock(off+int64(len(p))) {
			t.Fatalf("write %d bytes at %d: zeroed up to %d, below its end", len(p), off, d.zeroed)
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
		if got := readFile(t, path); !bytes.Equal(got[:min(len(got), size)], model[:len(got)]) {
			at := 0
			for at < len(got) && got[at] == model[at] {
				at++
			}
			t.Fatalf("operation %d (%d): the file differs from its model at byte %d", i, op, at)
		}
	}
}

// TestDirectWriterZeroesAhead: the first record after the file was emptied is preceded
// by a small zero fill, each next fill is twice as long up to zeroChunkMax, none passes
// the allocation, and a write reaching zeroChunkMin past the written blocks gets none.
func TestDirectWriterZeroesAhead(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	df, err := openDirect(path)
	if err != nil {
		t.Skipf("no direct writes here: %v", err)
	}
	d := newDirectWriter(df)
	defer d.close()
	const allocated = 3<<20 + 100
	if err := preallocate(f, allocated); err != nil {
		t.Fatal(err)
	}
	d.emptied(journalDataOffset)
	var fills []int64
	zeroed := d.zeroed
	for off := int64(journalDataOffset); off < allocated-100; off += 1000 {
		if err := d.writeAt(make([]byte, 100), off, allocated); err != nil {
			t.Fatal(err)
		}
		if d.zeroed != zeroed && d.zeroed > roundUpBlock(off+100) {
			fills = append(fills, d.zeroed-zeroed)
		}
		zeroed = d.zeroed
	}
	want := []int64{zeroChunkMin, 2 * zeroChunkMin, 4 * zeroChunkMin, 8 * zeroChunkMin, zeroChunkMax}
	if len(fills) < len(want) || !slices.Equal(fills[:len(want)-1], want[:len(want)-1]) || slices.Max(fills) > zeroChunkMax {
		t.Errorf("zero fills of %v bytes, want them doubling from %d to %d", fills, zeroChunkMin, zeroChunkMax)
	}
	if max := int64(allocated) / directBlock * directBlock; d.zeroed > max {
		t.Errorf("zeroed up to %d, past the allocation's last whole block %d", d.zeroed, max)
	}
	for _, tc := range []struct {
		n      int64
		filled bool
	}{{zeroChunkMin - directBlock, true}, {zeroChunkMin + 1, false}} {
		d.emptied(journalDataOffset)
		if err := d.writeAt(make([]byte, tc.n), journalDataOffset, allocated); err != nil {
			t.Fatal(err)
		}
		if own := roundUpBlock(journalDataOffset + tc.n); (d.zeroed > own) != tc.filled {
			t.Errorf("a write of %d bytes: zeroed up to %d, its own end %d; want zeros past it: %v", tc.n, d.zeroed, own, tc.filled)
		}
	}
}

// TestJournalFallsBackFromRefusedDirectWrites: a direct write the disk refuses (EINVAL)
// is written through the page cache, and so is every later one; the store says so once,
// and replay finds every record.
func TestJournalFallsBackFromRefusedDirectWrites(t *testing.T) {
	t.Parallel()
	j := newModeJournal(t, true)
	var logs logbuf.Buffer
	j.logger = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	refusals := 0
	j.direct.pwrite = func([]byte, int64) (int, error) { refusals++; return 0, syscall.EINVAL }
	for _, k := range []string{"a", "b", "c"} {
		if err := j.commitWith(func() error { return nil }, func() {}, []write{set(k, "1")}); err != nil {
			t.Fatal(err)
		}
	}
	got := replayed(t, j.f.Name())
	if want := [][]string{{"a=1"}, {"b=1"}, {"c=1"}}; !slices.EqualFunc(got, want, slices.Equal) || j.direct != nil || refusals != 1 {
		t.Errorf("replayed %q, direct %v, %d refusals; want %q, written through the page cache after one refusal", got, j.direct != nil, refusals, want)
	}
	if n := strings.Count(logs.String(), "cannot write directly"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

// TestStoreJournalWritesDirectly: a store on a file system that takes direct writes
// writes its journal directly.
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
	s := setup(t, Options{Dir: dir})
	if s.journal.direct == nil {
		t.Fatal("the journal writes through the page cache")
	}
	if err := s.Create(t.Context(), []*task.Task{mk("a", "", 0)}); err != nil {
		t.Fatal(err)
	}
	if got := replayed(t, filepath.Join(dir, journalName)); len(got) == 0 {
		t.Errorf("the journal holds no record of the create")
	}
}

// BenchmarkJournalCommit is the journal's part of a commit of a chain hop's size (about
// 1.5 KB of writes) through the page cache, synced, and directly; compare with
// BenchmarkFsync (host/engine), one fsync of a small append, the floor of a hop.
func BenchmarkJournalCommit(b *testing.B) {
	ws := []write{set("task", strings.Repeat("v", 1500))}
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
