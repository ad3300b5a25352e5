package badgerstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"

	"github.com/hashicorp/go-hclog"
)

// Direct writes: where the file system takes them, the journal writes its records
// through a second descriptor of its file opened with O_DIRECT and O_DSYNC
// (openDirect). Such a write goes from the process's buffer to the disk, and returns
// once the disk holds it: a commit is one pwrite, with no page of the page cache dirtied
// and no fdatasync to find and write it back. On this project's machines a commit of a
// chain hop's size takes about a sixth less time and a quarter less CPU that way
// (BenchmarkJournalCommit; docs/performance.md, thirty-fourth pass).
//
// Two things make it cheap, and directWriter keeps both:
//   - A direct write covers whole blocks (directBlock bytes, at an offset that is a
//     multiple of them, from a buffer aligned to them). A record starts where the last
//     one ended, in the middle of a block, so the writer keeps a copy of the last blocks
//     it wrote and writes that block's bytes before the record again with it.
//   - Blocks the file system allocated but never wrote (fallocate: "unwritten" extents)
//     make a synchronous write commit their conversion to written blocks: the same small
//     write then took 190-210 µs. So the writer has zeros written ahead of the records, a
//     chunk at a time (zeroed), and records land on blocks already written. The zeros
//     are written by a goroutine of their own (fill), started after a record's write
//     when the written blocks ahead run short, so that no commit waits for them: a fill
//     of 1 MiB took 4-5 ms in a slow hour, once for every few commits of a large tree.
//     A write waits only for a fill of blocks it covers itself.
//
// Pitfall: a write may zero what follows it in its last block. The journal writes only
// at its end (a record, the zeros of a failed one, a restart's header and first record
// header), and nothing it holds lies past its end. Zeros are written only past the end
// of every write since the file was emptied, and a fill is stopped before the file is
// emptied again (stopFill).

// directBlock is the alignment of direct writes: the largest logical block size of
// common disks (512 or 4,096 bytes), so a multiple of any of them.
const directBlock = 4096

// Zero-fill chunks: the first after the file was emptied is small, so that a short
// process writes few zeros it does not need (64 KiB took about 0.25 ms here), and each
// next one twice the last, up to zeroChunkMax (1 MiB, 0.8-5 ms: the zeros written ahead
// of some 500 commits of a chain). A fill starts once less than half of the next chunk
// is left ahead of the last write, and writes its chunk zeroPiece bytes at a time: a
// write that catches up with it waits for one piece at most.
const (
	zeroChunkMin = 64 << 10
	zeroChunkMax = 1 << 20
	zeroPiece    = 256 << 10
)

// errDirectRefused wraps a direct write the file system or the disk refused as such
// (EINVAL: an alignment it does not take). Part of it may be written (the os package
// writes the rest of a short write from an unaligned place, which is refused); the
// journal then writes the whole of it, and all that follows, through the page cache.
var errDirectRefused = errors.New("direct write refused")

// directWriter writes the journal's file through a descriptor opened for direct,
// synchronous writes. It is used by one goroutine at a time (the journal's), and runs
// its zero fills on another (fill).
type directWriter struct {
	f *os.File // O_DIRECT | O_DSYNC
	// pwrite is f.WriteAt; tests replace it to refuse writes, and then run fills on the
	// writer's goroutine (spawn).
	pwrite func(b []byte, off int64) (int, error)
	// spawn runs a fill: on a goroutine of its own (go), or at once in tests.
	spawn func(fill func())
	// logger hears of a fill that failed other than by a refusal.
	logger hclog.Logger

	// last and prev are copies of the last two blocks the last write wrote: the next
	// write starts in one of them (in prev when the last held only the zeros after a
	// record, recordTerminator).
	last, prev cachedBlock
	chunk      int64  // the length of the next zero fill
	buf        []byte // aligned: the blocks of a write
	scratch    []byte // aligned: a block read back

	// mu guards the fill's state, shared with its goroutine; filled is signalled when
	// it advances or ends.
	mu     sync.Mutex
	filled *sync.Cond
	// zeroed is where the written blocks end: below it, a write converts no extent.
	zeroed int64
	// filling is set while a fill runs, writing zeros from zeroed on; stop asks it to
	// end after its piece.
	filling, stop bool
	// fillErr is the error that ended a fill: no more start (until retryFills, for one
	// that is not a refusal), and a refusal (an alignment the disk does not take)
	// refuses the next write before it is tried.
	fillErr error
}

// cachedBlock is a copy of the block at off (-1: none).
type cachedBlock struct {
	off int64
	b   []byte
}

// newDirectWriter returns a writer of f, a descriptor opened with openDirect, whose
// blocks below written (the journal's header) are written and none past it.
func newDirectWriter(f *os.File, written int64) *directWriter {
	d := &directWriter{f: f, pwrite: f.WriteAt, spawn: func(fill func()) { go fill() }, logger: hclog.NewNullLogger(),
		last: cachedBlock{b: alignedBlocks(directBlock)}, prev: cachedBlock{b: alignedBlocks(directBlock)}}
	d.filled = sync.NewCond(&d.mu)
	d.emptied(written)
	return d
}

// alignedBlocks returns a zeroed buffer of n bytes (a multiple of directBlock) whose
// first byte is aligned to directBlock, as direct writes need.
func alignedBlocks(n int) []byte {
	b := make([]byte, n+directBlock)
	skip := (directBlock - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directBlock)) % directBlock
	return b[skip : skip+n : skip+n]
}

// emptied tells the writer that the file was truncated, then written below written
// (through the other descriptor): no block past it is written. The truncation must
// come after stopFill.
func (d *directWriter) emptied(written int64) {
	d.stopFill()
	d.last.off, d.prev.off, d.chunk = -1, -1, zeroChunkMin
	d.mu.Lock()
	d.zeroed, d.fillErr = roundUpBlock(written), nil
	d.mu.Unlock()
}

// writeAt writes p at off, durably, and may zero the rest of its last block. The file
// must be allocated up to allocated: zero fills stay below it (0: the write starts
// none).
func (d *directWriter) writeAt(p []byte, off, allocated int64) error {
	start := off - off%directBlock
	end := roundUpBlock(off + int64(len(p)))
	if err := d.awaitFill(end); err != nil {
		return err
	}
	n := int(end - start)
	if cap(d.buf) < n {
		d.buf = alignedBlocks(n)
	}
	buf := d.buf[:n]
	if err := d.before(buf[:off-start], start); err != nil {
		return err
	}
	copy(buf[off-start:], p)
	clear(buf[off-start+int64(len(p)):])
	if err := d.write(buf, start); err != nil {
		return err
	}
	d.keep(buf, end)
	if cap(d.buf) > journalBufKeep {
		d.buf = nil // a large create's record is not kept for the small ones of a run
	}
	d.wrote(end, allocated)
	return nil
}

// keep copies the last two blocks of buf, written up to end.
func (d *directWriter) keep(buf []byte, end int64) {
	n := len(buf)
	copy(d.last.b, buf[n-directBlock:])
	d.last.off, d.prev.off = end-directBlock, -1
	if n >= 2*directBlock {
		copy(d.prev.b, buf[n-2*directBlock:n-directBlock])
		d.prev.off = end - 2*directBlock
	}
}

// before fills prefix with what the file holds from start (a block's start) on: the
// bytes before a write that begins in the middle of that block.
func (d *directWriter) before(prefix []byte, start int64) error {
	if len(prefix) == 0 {
		return nil
	}
	for _, c := range []cachedBlock{d.last, d.prev} {
		if start == c.off {
			copy(prefix, c.b)
			return nil
		}
	}
	// Not a block the last write wrote (the zeros of a failed record that began
	// earlier): read it. A direct read too, so that no stale page of the page cache
	// answers.
	if d.scratch == nil {
		d.scratch = alignedBlocks(directBlock)
	}
	if _, err := d.f.ReadAt(d.scratch, start); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read journal block at %d: %w", start, err)
	}
	copy(prefix, d.scratch)
	return nil
}

// awaitFill waits until no fill is writing blocks below end, the end of the next
// write's blocks (a fill writes from zeroed on, so one that reached end or did not start
// below it is no obstacle). It fails the write, untried, when a fill found direct writes
// refused.
func (d *directWriter) awaitFill(end int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.filling && d.zeroed < end {
		d.filled.Wait()
	}
	if isDirectRefused(d.fillErr) {
		return fmt.Errorf("%w: zeros ahead of the journal's records: %w", errDirectRefused, d.fillErr)
	}
	return nil
}

// wrote records that the blocks up to end are written, and starts a fill of the next
// chunk when less than half of it is left ahead of end, within allocated.
func (d *directWriter) wrote(end, allocated int64) {
	d.mu.Lock()
	d.zeroed = max(d.zeroed, end)
	limit := allocated - allocated%directBlock
	if d.filling || d.fillErr != nil || d.zeroed-end >= d.chunk/2 || d.zeroed >= limit {
		d.mu.Unlock()
		return
	}
	from, to := d.zeroed, min(d.zeroed+d.chunk, limit)
	d.filling = true
	d.mu.Unlock()
	d.chunk = min(2*d.chunk, zeroChunkMax)
	d.spawn(func() { d.fill(from, to) })
}

// fill writes zeros over the blocks from where the written ones end (from) up to to, a
// piece at a time, each piece then counted as written; it ends early when asked to stop
// or when a write fails (fillErr: the records go on over blocks not yet written).
func (d *directWriter) fill(from, to int64) {
	zeros := alignedBlocks(int(min(to-from, zeroPiece))) // not kept: a fill comes once in hundreds of records
	var err error
	for at := from; at < to; {
		n := min(to-at, zeroPiece)
		if err = d.write(zeros[:n], at); err != nil {
			break
		}
		at += n
		d.mu.Lock()
		d.zeroed = max(d.zeroed, at)
		stop := d.stop
		d.mu.Unlock()
		d.filled.Broadcast()
		if stop {
			break
		}
	}
	if err != nil && !isDirectRefused(err) {
		// The journal's own writes say so when they fail too; until then its records
		// convert the blocks they write, as they would without the zeros.
		d.logger.Warn("the task store's journal could not write zeros ahead of its records; it writes no more until its next checkpoint", "error", err)
	}
	d.mu.Lock()
	d.filling, d.fillErr = false, err
	d.mu.Unlock()
	d.filled.Broadcast()
}

// retryFills lets fills start again after one failed other than by a refusal (a
// transient error of the disk), which otherwise turns them off until the file is
// emptied.
func (d *directWriter) retryFills() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fillErr != nil && !isDirectRefused(d.fillErr) {
		d.fillErr = nil
	}
}

// stopFill ends the fill running, if any, after its piece, and returns once it ended.
func (d *directWriter) stopFill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stop = true
	for d.filling {
		d.filled.Wait()
	}
	d.stop = false
}

// write writes whole aligned blocks at off, which must be a block's start.
func (d *directWriter) write(b []byte, off int64) error {
	if _, err := d.pwrite(b, off); err != nil {
		if isDirectRefused(err) {
			return fmt.Errorf("%w: %w", errDirectRefused, err)
		}
		return err
	}
	return nil
}

// close ends the fill running, if any, and closes the descriptor: nothing is left to
// sync, each write was.
func (d *directWriter) close() error {
	d.stopFill()
	return d.f.Close()
}

// roundUpBlock is n rounded up to a multiple of directBlock.
func roundUpBlock(n int64) int64 { return (n + directBlock - 1) / directBlock * directBlock }
