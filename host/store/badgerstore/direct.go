package badgerstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"
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
//     write then took 190-210 µs. So the writer writes zeros ahead of the records, a
//     chunk at a time (zeroed), and records land on blocks already written.
//
// Pitfall: a write may zero what follows it in its last block. The journal writes only
// at its end (a record, the zeros of a failed one, a restart's header and first record
// header), and nothing it holds lies past its end.

// directBlock is the alignment of direct writes: the largest logical block size of
// common disks (512 or 4,096 bytes), so a multiple of any of them.
const directBlock = 4096

// Zero-fill chunks: the first after the file was emptied is small, so that a short
// process pays little for it (64 KiB took about 0.25 ms here), and each next one twice
// the last, up to zeroChunkMax (1 MiB, about 0.8 ms: the zeros written ahead of some
// 500 commits of a chain).
const (
	zeroChunkMin = 64 << 10
	zeroChunkMax = 1 << 20
)

// errDirectRefused wraps a direct write the file system or the disk refused as such
// (EINVAL: an alignment it does not take). Part of it may be written (the os package
// writes the rest of a short write from an unaligned place, which is refused); the
// journal then writes the whole of it, and all that follows, through the page cache.
var errDirectRefused = errors.New("direct write refused")

// directWriter writes the journal's file through a descriptor opened for direct,
// synchronous writes. It is used by one goroutine at a time (the journal's).
type directWriter struct {
	f *os.File // O_DIRECT | O_DSYNC
	// pwrite is f.WriteAt; tests replace it to refuse writes.
	pwrite func(b []byte, off int64) (int, error)

	// last and prev are copies of the last two blocks the last write wrote: the next
	// write starts in one of them (in prev when the last held only the zeros after a
	// record, recordTerminator).
	last, prev cachedBlock
	// zeroed is where the written blocks end: below it, a write converts no extent.
	zeroed  int64
	chunk   int64  // the length of the next zero fill
	buf     []byte // aligned: the blocks of a write
	scratch []byte // aligned: a block read back
}

// cachedBlock is a copy of the block at off (-1: none).
type cachedBlock struct {
	off int64
	b   []byte
}

// newDirectWriter returns a writer of f, a descriptor opened with openDirect, whose
// blocks below written (the journal's header) are written and none past it.
func newDirectWriter(f *os.File, written int64) *directWriter {
	d := &directWriter{f: f, pwrite: f.WriteAt,
		last: cachedBlock{b: alignedBlocks(directBlock)}, prev: cachedBlock{b: alignedBlocks(directBlock)}}
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
// (through the other descriptor): no block past it is written.
func (d *directWriter) emptied(written int64) {
	d.last.off, d.prev.off, d.zeroed, d.chunk = -1, -1, roundUpBlock(written), zeroChunkMin
}

// writeAt writes p at off, durably, and may zero the rest of its last block. The file
// must be allocated up to allocated (the zero fill stays below it).
func (d *directWriter) writeAt(p []byte, off, allocated int64) error {
	start := off - off%directBlock
	end := roundUpBlock(off + int64(len(p)))
	if err := d.fill(start, end, allocated); err != nil {
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
	d.zeroed = max(d.zeroed, end)
	if cap(d.buf) > journalBufKeep {
		d.buf = nil // a large create's record is not kept for the small ones of a run
	}
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

// fill writes zeros over the blocks from where the written ones end, so that a write
// of [start, end) lands on written blocks: up to end and a chunk past it, within
// allocated. A write that reaches zeroChunkMin or more past the written blocks gets
// none: its one conversion costs little beside its own length, and zeros written first
// would double it (a large round's record, a create's).
func (d *directWriter) fill(start, end, allocated int64) error {
	if end <= d.zeroed || end-max(d.zeroed, start) >= zeroChunkMin {
		return nil
	}
	to := min(max(end, d.zeroed+d.chunk), allocated-allocated%directBlock)
	if to <= d.zeroed {
		return nil
	}
	// Zeros of their own, not kept: a fill comes once in hundreds of records, which
	// need a block or two of the writer's buffer.
	zeros := alignedBlocks(int(min(to-d.zeroed, zeroChunkMax)))
	for at := d.zeroed; at < to; {
		n := min(to-at, zeroChunkMax)
		if err := d.write(zeros[:n], at); err != nil {
			return fmt.Errorf("write zeros ahead of the journal's records: %w", err)
		}
		at += n
		d.zeroed = at
	}
	d.chunk = min(2*d.chunk, zeroChunkMax)
	return nil
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

// close closes the descriptor: nothing is left to sync, each write was.
func (d *directWriter) close() error { return d.f.Close() }

// roundUpBlock is n rounded up to a multiple of directBlock.
func roundUpBlock(n int64) int64 { return (n + directBlock - 1) / directBlock * directBlock }
