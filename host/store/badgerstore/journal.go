package badgerstore

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/klauspost/compress/s2"
)

// The journal is the store's own commit log, and what makes a commit durable on disk.
//
// Badger syncs a commit by syncing two files through their memory mappings: its value
// log (a disk cache flush even when the commit wrote nothing there) and the memtable's
// write-ahead log (whose first write after each sync also faults). So Badger runs with
// unsynced writes, and every commit of the store first appends its writes to one
// preallocated file, apflow.journal in the data directory, and syncs that file alone:
// one sync a commit (docs/decisions.md, §20). Where the file system takes direct
// writes, the record's write is that sync (O_DIRECT and O_DSYNC, direct.go); elsewhere
// it is written through the page cache and synced with fdatasync.
//
// Guarantees:
//   - A commit that returned nil is in the journal, synced, or in Badger's files, synced
//     by a checkpoint after it. Every commit of the store goes through journal.commit:
//     the committer's rounds, a big write's chunks and their undo, Open's recovery.
//   - Open replays the journal's records in order over what Badger recovered, then
//     checkpoints. Records hold whole values and deletes, so replaying one Badger already
//     holds changes nothing, and replaying them all gives every key its last committed
//     value, whatever part of its unsynced writes Badger kept. A store opened with
//     NoSync replays the journal too, and leaves it empty.
//   - A checkpoint syncs Badger's files that may hold unsynced writes (everything in the
//     data directory but its tables, which Badger syncs when it writes them and never
//     changes) and the directory itself, then empties the journal by writing a new
//     epoch into its header (restart). It runs once the journal holds
//     journalCheckpointBytes, and when the store closes, which truncates the file too.
//   - Replay reads nothing past the last record a commit synced: each record is written
//     with zeros after it (recordTerminator), which the next record overwrites. And
//     bytes past it could not pass for a record anyway, though they hold what earlier
//     epochs stored (task inputs, plugins' values): a record's CRC covers the epoch, and
//     each epoch is drawn at random (newEpoch), so no stored value can be made to check
//     under one.
//   - Badger's value-log garbage collection moves live values with unsynced writes that
//     shadow the old ones. Before it runs in an open store, the store restates every
//     value the value log holds in the journal (inValueLog) and holds checkpoints off
//     until the collection is over and its files are synced (Store.collectGarbage), so
//     replay restores what a crash loses of a move. Close's maintenance collects instead
//     in a store it opens with Badger syncing every write, and a checkpoint syncs the
//     moves before Badger deletes the files they left (Store.collectValueLog).
//   - A journal that cannot be written or synced, a commit Badger refuses after its
//     record was synced, and a checkpoint that cannot sync stop every later commit with
//     the error: the store must be reopened. The refused commit's record is zeroed
//     first, so that replay does not apply a write whose caller was told it failed.
//     (After a failed sync the operating system may have dropped what it could not
//     write, and a later sync would not say so.)
//
// Format: a 20-byte header (journalMagic, the epoch, and a CRC-32C of both) alone in the
// first 4 KiB, then records: the payload's length (4 bytes) and a CRC-32C of the epoch
// and the payload (4 bytes), then the payload, each write as a kind byte (0 set, 1
// delete), the key's length (uvarint) and the key, then for a set the value's length
// (uvarint) and the value; or, packed, the kind byte 2, the length of those writes
// (uvarint) and the writes compressed with S2 (packRecord). The CRC covers the payload
// as stored. Replay stops at the first record that is short, zero-length or
// fails its CRC: the zeros after the last record, a torn last record, or what an earlier
// epoch left there. A record that fails its CRC followed by one that checks is damage,
// not an end: Open fails with ErrJournalDamaged.
type journal struct {
	dir    string
	f      *os.File
	logger hclog.Logger

	epoch     uint64
	off       int64 // where the next record goes
	allocated int64 // preallocated length of the file
	buf       []byte
	packed    []byte // a record's compressed writes (appendRecord)
	// logical is where the next record would go if no record were compressed: what
	// checkpoints go by, so that compression does not leave more to replay.
	logical int64
	// direct writes the file where the file system takes direct writes (direct.go),
	// each durable once written; nil: through f and the page cache, made durable by
	// syncData.
	direct *directWriter

	// checkpointAt is the journal size, uncompressed (logical), from which a commit is
	// followed by a checkpoint.
	checkpointAt int64
	// held holds checkpoints off while a garbage collection may move values (restate).
	held bool
	// broken, once set, fails every later commit.
	broken atomic.Pointer[error]

	// syncData makes what the journal wrote durable (syncWritten); syncFiles is
	// syncStoreFiles, and syncFile the sync of one file of the store's. Tests replace
	// them to see what is synced when.
	syncData  func() error
	syncFiles func(dir string) error
	syncFile  func(path string) error

	// sealedBelow numbers the oldest value-log file a checkpoint syncs: Badger writes
	// only into its newest value-log file and starts a newer one at each Open, so the
	// files numbered below the newest one a checkpoint synced (or Open found synced)
	// hold nothing unsynced, and never will.
	sealedBelow uint64

	// syncs counts the journal's syncs (a direct write of a record is one), and
	// checkpoints its checkpoints, for tests.
	syncs, checkpoints atomic.Int64
}

func newJournal(dir string, f *os.File, logger hclog.Logger, epoch uint64) *journal {
	j := &journal{dir: dir, f: f, logger: logger, epoch: epoch, checkpointAt: journalCheckpointBytes,
		syncFile: syncPath}
	j.syncData, j.syncFiles = j.syncWritten, j.syncStoreFiles
	return j
}

// useDirectWrites has the journal write its file at path directly (direct.go) where the
// file system takes it: a descriptor opened with openDirect, an alignment within
// directBlock (directAlignment), and a first direct write, of the header as it is, that
// succeeds. Otherwise the journal writes through the page cache. Either way the store
// says which at debug level (and why, when not directly). It must be called on an
// emptied journal (reset), before any record: nothing is yet acknowledged that a failed
// write could lose.
func (j *journal) useDirectWrites(path string) {
	d, err := openDirect(path)
	if err == nil {
		if err = directAlignment(d); err != nil {
			_ = d.Close()
		}
	}
	if err == nil {
		err = j.tryDirect(newDirectWriter(d, journalDataOffset))
	}
	if err != nil {
		j.logger.Debug("the task store's journal writes through the page cache", "reason", err)
		return
	}
	j.logger.Debug("the task store's journal writes directly (O_DIRECT, O_DSYNC)")
}

// tryDirect has the journal write through d from now on if d's first write succeeds:
// the header, as reset wrote and synced it, in its block of its own (a block already
// written, so the write needs no zeros ahead of it, and it starts no fill: a process
// that commits nothing pays little for it). Otherwise it closes d.
func (j *journal) tryDirect(d *directWriter) error {
	if err := d.writeAt(journalHeader(j.epoch), 0, 0); err != nil {
		_ = d.close()
		return err
	}
	d.logger = j.logger
	j.direct = d
	return nil
}

// writeAt writes p at off: directly, durable once it returns, or into the page cache,
// durable once syncData returns. A direct write refused as such (an alignment the disk
// does not take) is written whole through the page cache, as is every later one: part
// of it may have reached the disk directly, and the page cache's write and sync
// supersede it.
func (j *journal) writeAt(p []byte, off int64) error {
	if j.direct != nil {
		err := j.direct.writeAt(p, off, j.allocated)
		if !errors.Is(err, errDirectRefused) {
			return err
		}
		j.logger.Warn("the task store's journal cannot write directly; it writes through the page cache", "error", err)
		_ = j.direct.close()
		j.direct = nil
	}
	_, err := j.f.WriteAt(p, off)
	return err
}

// syncWritten makes what the journal wrote durable: fdatasync, or nothing where its
// writes are direct.
func (j *journal) syncWritten() error {
	if j.direct != nil {
		return nil
	}
	return datasync(j.f)
}

const (
	journalName       = "apflow.journal"
	journalMagic      = "apflowJ1"
	journalHeaderSize = 20
	// journalDataOffset is where records begin: the header has its block to itself, so
	// that no write of a record can tear it.
	journalDataOffset = 4096
	recordHeaderSize  = 8
	// recordTerminator is the length of the zeros written after each record, in the
	// same write: an empty record header, where replay stops.
	recordTerminator = recordHeaderSize
	// journalCheckpointBytes is the journal size from which a commit checkpoints: the
	// most a crash leaves to replay, and how much Badger's files hold unsynced.
	journalCheckpointBytes = 64 << 20
	// journalKeepBytes is the most a checkpoint leaves allocated to the journal: a
	// journal that a restatement made larger is truncated.
	journalKeepBytes = journalCheckpointBytes + 2*journalPrealloc
	// journalPrealloc is the length preallocated at each reset and each extension: a
	// record written within it does not change the file's size, so its sync commits at
	// most the conversion of the blocks it wrote (none for direct writes, which write
	// zeros ahead of the records: direct.go).
	journalPrealloc = 8 << 20
	// journalBufKeep is the largest record buffer kept from one commit to the next, and
	// the size of a restatement's records.
	journalBufKeep = 1 << 20

	writeSet    = 0
	writeDelete = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openJournal opens the journal of dir, replays into db what it holds and leaves it
// empty, returning how many records it replayed. logs lists the value-log files after
// Badger's Open, and logsErr is what listing them met, if anything.
func openJournal(db *badger.DB, dir string, logger hclog.Logger, logs valueLogFiles, logsErr error) (*journal, int, error) {
	path := filepath.Join(dir, journalName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open journal: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open journal: %w", err)
	}
	epoch, n, err := replayFile(f, info.Size(), func(ws []write) error {
		return commitInBatches(db, nil, ws)
	})
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("replay journal %s: %w", path, err)
	}
	j := newJournal(dir, f, logger, epoch)
	newest, older := logs.newest, logsErr != nil || logs.count > 1 // a directory it cannot read has others, as far as it knows
	switch {
	case n > 0 || (info.Size() < journalHeaderSize && older):
		// Of every value-log file: a crash may have left any unsynced, and so may a
		// process that opened the store without syncs (NoSync), which leaves the journal
		// without its header. Synced now, before the journal gets a header again, which
		// a later Open would trust.
		err = j.checkpoint()
	default:
		// Nothing to make durable. A journal with its header and no record was left by
		// a process that closed the store, or crashed after a checkpoint and before its
		// next commit: the value-log files but the newest two (Badger has just started
		// the newest) were synced then. Without its header (just created, or left by a
		// NoSync process) and beside no value-log file but the one Badger has just
		// started, there is nothing older to sync.
		if info.Size() >= journalHeaderSize {
			j.sealedBelow = newest - min(newest, 1)
		}
		err = j.reset(journalPrealloc)
		if err == nil {
			err = syncDir(dir)
		}
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	j.useDirectWrites(path)
	return j, n, nil
}

// replayFile replays the journal f of size bytes with apply, after reading it through
// once without applying anything when it holds records: a damaged journal
// (ErrJournalDamaged) fails before any of its records reaches the store, so that moving
// it aside leaves the store as its own files kept it.
func replayFile(f *os.File, size int64, apply func([]write) error) (epoch uint64, records int, err error) {
	read := func(apply func([]write) error) (uint64, int, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, 0, err
		}
		return replayJournal(bufio.NewReaderSize(f, 1<<16), size, apply)
	}
	if size > journalDataOffset {
		if _, _, err := read(func([]write) error { return nil }); err != nil {
			return 0, 0, err
		}
	}
	return read(apply)
}

// commit appends writes to the journal and syncs it, then commits txn: a nil error means
// the writes are durable and visible. A nil journal (in memory, or NoSync) commits txn
// alone. It is called by one goroutine at a time (the committer's, or Open's).
func (j *journal) commit(txn *badger.Txn, writes ...[]write) error {
	if j == nil {
		return txn.Commit()
	}
	return j.commitWith(txn.Commit, txn.Discard, writes...)
}

// commitWith is commit with Badger's commit and discard as functions, for tests.
func (j *journal) commitWith(commit func() error, discard func(), writes ...[]write) error {
	if broken := j.broken.Load(); broken != nil {
		discard()
		return *broken
	}
	if !slices.ContainsFunc(writes, func(ws []write) bool { return len(ws) > 0 }) {
		// Nothing to make durable; and an empty record would read as the journal's end.
		return commit()
	}
	start := j.off
	n, err := j.append(writes)
	if err != nil {
		discard()
		return j.fail(start, n, err)
	}
	if err := commit(); err != nil {
		return j.fail(start, n, fmt.Errorf("badger refused a commit whose record was synced: %w", err))
	}
	if !j.held && j.logical >= j.checkpointAt {
		if err := j.checkpoint(); err != nil {
			// This commit is durable in the journal; the later ones are refused.
			j.logger.Error("task store checkpoint failed; the store accepts no more writes until it is reopened", "error", err)
		}
	}
	return nil
}

// append writes one record of writes at the end of the journal and syncs it. It returns
// the record's length, written or not.
func (j *journal) append(writes [][]write) (int64, error) {
	n, err := j.write(writes)
	if err != nil {
		return n, err
	}
	j.syncs.Add(1)
	return n, j.syncData()
}

// write writes one record of writes at the end of the journal: unsynced through the page
// cache, durable at once where the journal writes directly. It returns the record's
// length, written or not.
func (j *journal) write(writes [][]write) (int64, error) {
	var raw int64
	j.buf, raw = appendRecord(j.buf[:0], j.epoch, writes, &j.packed)
	j.logical += recordHeaderSize + raw
	n := int64(len(j.buf))
	j.buf = append(j.buf, make([]byte, recordTerminator)...)
	if end := j.off + n + recordTerminator; end > j.allocated {
		if err := preallocate(j.f, end+journalPrealloc); err != nil {
			return n, err
		}
		j.allocated = end + journalPrealloc
	}
	err := j.writeAt(j.buf, j.off)
	j.off += n
	if cap(j.buf) > journalBufKeep {
		j.buf = nil // a large create's record is not kept for the small ones of a run
	}
	return n, err
}

// fail zeroes the n-byte record written at start, whose commit failed with err (so that
// no replay applies it, nor reads a record in its bytes), breaks the journal and returns
// the error.
func (j *journal) fail(start, n int64, err error) error {
	j.off = start
	verr := j.writeAt(make([]byte, n), start)
	if verr == nil {
		verr = j.syncData()
	}
	if verr != nil {
		err = fmt.Errorf("%w; zeroing its record failed too: %v", err, verr)
	}
	return j.breakWith(err)
}

// breakWith fails every later commit with cause, and returns the error they get.
func (j *journal) breakWith(cause error) error {
	err := fmt.Errorf("task store journal: %w; the store accepts no more writes until it is reopened", cause)
	j.broken.CompareAndSwap(nil, &err)
	return *j.broken.Load()
}

// checkpoint makes every commit durable in Badger's files, then empties the journal. A
// failure breaks the journal.
func (j *journal) checkpoint() error {
	began, size := time.Now(), j.off
	if err := j.syncFiles(j.dir); err != nil {
		return j.breakWith(fmt.Errorf("checkpoint: %w", err))
	}
	if err := j.restart(); err != nil {
		return j.breakWith(err)
	}
	j.checkpoints.Add(1)
	j.logger.Debug("checkpoint", "journal_bytes", size, "took", time.Since(began))
	return nil
}

// inValueLog reports whether Badger keeps the item's value in its value log, whatever
// the value threshold of the process that wrote it: Badger's estimate of the item's size
// (Item.EstimatedSize) then counts the value-log entry's header and checksum besides the
// key and the value (Item.KeySize, Item.ValueSize), and otherwise exactly those.
func inValueLog(item *badger.Item) bool {
	return item.EstimatedSize() != item.KeySize()+item.ValueSize()
}

// eachValueLogValue calls fn with a copy of every key, and its value, that Badger keeps
// in its value log with a version above after, as committed when it starts, in key
// order. fn may commit: what it writes is past the snapshot read.
func eachValueLogValue(db *badger.DB, after uint64, fn func(write) error) error {
	return db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			if item.Version() <= after || !inValueLog(item) {
				continue
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(write{key: item.KeyCopy(nil), value: v}); err != nil {
				return err
			}
		}
		return nil
	})
}

// restate appends to the journal the value of every key Badger keeps in its value log,
// as committed, in records of about journalBufKeep bytes, each synced before the next is
// written (so that only the last can be torn, which replay's check for damage rests on:
// ErrJournalDamaged), and holds checkpoints off until release, which must follow
// whatever it returns. It first preallocates reserve bytes past the journal's end:
// if that fails (a full disk), it restates nothing and the journal is as it was. It
// returns how many values it restated.
func (j *journal) restate(db *badger.DB, reserve int64) (int, error) {
	if broken := j.broken.Load(); broken != nil {
		return 0, *broken
	}
	if end := j.off + reserve; end > j.allocated {
		if err := preallocate(j.f, end); err != nil {
			return 0, fmt.Errorf("reserve %d bytes of journal to restate the value log's values: %w", reserve, err)
		}
		j.allocated = end
	}
	j.held = true
	var batch []write
	var size int64
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		start := j.off
		if k, err := j.write([][]write{batch}); err != nil {
			return j.fail(start, k, fmt.Errorf("restate values: %w", err))
		}
		batch, size = nil, 0
		j.syncs.Add(1)
		if err := j.syncData(); err != nil {
			return j.breakWith(fmt.Errorf("restate values: %w", err))
		}
		return nil
	}
	err := eachValueLogValue(db, 0, func(w write) error {
		batch = append(batch, w)
		size += int64(len(w.value))
		n++
		if size >= journalBufKeep {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

// release ends the hold of restate with a checkpoint.
func (j *journal) release() error {
	j.held = false
	if broken := j.broken.Load(); broken != nil {
		return *broken
	}
	return j.checkpoint()
}

// close checkpoints and leaves the journal empty and unallocated, for a store Badger has
// closed. A broken journal is left as it is, for the next Open to replay.
func (j *journal) close() error {
	var err error
	if broken := j.broken.Load(); broken != nil {
		err = *broken
	} else if err = j.syncFiles(j.dir); err == nil {
		err = j.reset(0)
	}
	if cerr := j.closeFiles(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("task store journal: %w", err)
	}
	return nil
}

// leave closes the journal as it is, for the next Open to replay: Open failed, or Badger
// did not close.
func (j *journal) leave() { _ = j.closeFiles() }

// closeFiles closes the journal's descriptors.
func (j *journal) closeFiles() error {
	if j.direct != nil {
		_ = j.direct.close() // nothing of it to sync: each write was
	}
	return j.f.Close()
}

// restart empties the journal under a new epoch and keeps its blocks: the header is
// written, and an empty record header at the first record's place, and synced. Replay
// then stops at once, and the next records overwrite blocks already written, which
// changes no metadata. (Truncating a 64 MiB journal and preallocating it again took
// 40-50 ms, half of a checkpoint: docs/performance.md, seventeenth pass.) A journal
// with less than journalPrealloc allocated, as Open finds it, or more than
// journalKeepBytes, as a restatement leaves it, is reset instead.
func (j *journal) restart() error {
	if j.allocated < journalPrealloc || j.allocated > journalKeepBytes {
		return j.reset(journalPrealloc)
	}
	j.epoch = newEpoch(j.epoch)
	if j.direct != nil {
		j.direct.retryFills() // after a fill that failed, the next epoch tries again
	}
	if err := j.writeAt(journalHeader(j.epoch), 0); err != nil {
		return fmt.Errorf("restart journal: %w", err)
	}
	if err := j.writeAt(make([]byte, recordTerminator), journalDataOffset); err != nil {
		return fmt.Errorf("restart journal: %w", err)
	}
	j.syncs.Add(1)
	if err := j.syncData(); err != nil {
		return fmt.Errorf("restart journal: %w", err)
	}
	j.off, j.logical = journalDataOffset, journalDataOffset
	return nil
}

// reset empties the journal under a new epoch and preallocates it.
func (j *journal) reset(prealloc int64) error {
	j.epoch = newEpoch(j.epoch)
	if j.direct != nil {
		j.direct.stopFill() // no zeros written into the file once truncated
	}
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("reset journal: %w", err)
	}
	if _, err := j.f.WriteAt(journalHeader(j.epoch), 0); err != nil {
		return fmt.Errorf("reset journal: %w", err)
	}
	j.off, j.logical, j.allocated = journalDataOffset, journalDataOffset, journalHeaderSize
	if j.direct != nil {
		j.direct.emptied(journalDataOffset) // the header's block, synced below
	}
	if prealloc > 0 {
		if err := preallocate(j.f, prealloc); err != nil {
			return fmt.Errorf("reset journal: %w", err)
		}
		j.allocated = prealloc
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("reset journal: %w", err)
	}
	return nil
}

// newEpoch draws a journal epoch at random, other than 0 and than prev: a record's CRC
// covers its epoch, so what a task or a plugin stored can never be made to pass for a
// record of an epoch to come.
func newEpoch(prev uint64) uint64 {
	var b [8]byte
	for {
		rand.Read(b[:]) // never fails (crypto/rand)
		if e := binary.LittleEndian.Uint64(b[:]); e != 0 && e != prev {
			return e
		}
	}
}

func journalHeader(epoch uint64) []byte {
	h := make([]byte, journalHeaderSize)
	copy(h, journalMagic)
	binary.LittleEndian.PutUint64(h[8:], epoch)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], crcTable))
	return h
}

// appendRecord appends to buf the record of writes under epoch, its payload compressed
// when that makes it shorter by an eighth or more (packRecord). scratch holds the
// compression's output from one call to the next. It returns the record and the length
// of its payload before compression.
func appendRecord(buf []byte, epoch uint64, writes [][]write, scratch *[]byte) (record []byte, raw int64) {
	start := len(buf)
	buf = append(buf, make([]byte, recordHeaderSize)...)
	for _, ws := range writes {
		buf = appendWrites(buf, ws)
	}
	raw = int64(len(buf) - start - recordHeaderSize)
	buf = packRecord(buf, start+recordHeaderSize, scratch)
	payload := buf[start+recordHeaderSize:]
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], recordCRC(epoch, payload))
	return buf, raw
}

// appendWrites appends ws to buf as a record's payload holds them before compression
// (decodeRecord reads them back).
func appendWrites(buf []byte, ws []write) []byte {
	for _, w := range ws {
		if w.del {
			buf = append(buf, writeDelete)
			buf = binary.AppendUvarint(buf, uint64(len(w.key)))
			buf = append(buf, w.key...)
			continue
		}
		buf = append(buf, writeSet)
		buf = binary.AppendUvarint(buf, uint64(len(w.key)))
		buf = append(buf, w.key...)
		buf = binary.AppendUvarint(buf, uint64(len(w.value)))
		buf = append(buf, w.value...)
	}
	return buf
}

// Compressed payloads. A record's payload whose writes take packMin bytes or more is
// stored compressed with S2 (github.com/klauspost/compress/s2, as create markers are)
// when that saves an eighth of it or more: the payload is then writePacked, the length
// of the writes (uvarint) and their S2 block. The journal's writes are mostly task
// values and index keys that repeat their tree's and parent's ids: the records of a
// 1,001-task tree run through a server took 5.6 times less room (2.19 MB against 391
// KB, in 2.7 ms of CPU), and so fewer bytes written directly, and fewer zeros written
// ahead of them (docs/performance.md, thirty-fifth pass). A build from before writePacked
// refuses such a record ("unknown write kind 2") rather than replay past it.
const (
	writePacked = 2
	packMin     = 512
)

// packRecord compresses buf[at:], the writes of a record, in place when that saves an
// eighth of them or more (see writePacked).
func packRecord(buf []byte, at int, scratch *[]byte) []byte {
	writes := buf[at:]
	if len(writes) < packMin {
		return buf
	}
	if n := s2.MaxEncodedLen(len(writes)); cap(*scratch) < n {
		*scratch = make([]byte, n)
	}
	packed := s2.Encode((*scratch)[:cap(*scratch)], writes)
	if cap(*scratch) > s2.MaxEncodedLen(journalBufKeep) {
		*scratch = nil // a large create's is not kept for the small records of a run
	}
	if len(packed)+1+binary.MaxVarintLen64 > len(writes)-len(writes)/8 {
		return buf
	}
	buf = append(buf[:at], writePacked)
	buf = binary.AppendUvarint(buf, uint64(len(writes)))
	return append(buf, packed...)
}

// unpackRecord returns the writes of a record's payload p: p itself, or its writes
// decompressed into *scratch (reused by the next call) when p is packed.
func unpackRecord(p []byte, scratch *[]byte) ([]byte, error) {
	if len(p) == 0 || p[0] != writePacked {
		return p, nil
	}
	n, k := binary.Uvarint(p[1:])
	if k <= 0 || n > math.MaxUint32 {
		return nil, errors.New("bad length of compressed writes")
	}
	block := p[1+k:]
	if dl, err := s2.DecodedLen(block); err != nil || uint64(dl) != n {
		return nil, fmt.Errorf("compressed writes of %d bytes do not decode to their length %d: %v", len(block), n, err)
	}
	if uint64(cap(*scratch)) < n {
		*scratch = make([]byte, n)
	}
	writes, err := s2.Decode((*scratch)[:n], block)
	if err != nil {
		return nil, fmt.Errorf("decompress writes: %w", err)
	}
	return writes, nil
}

func recordCRC(epoch uint64, payload []byte) uint32 {
	var e [8]byte
	binary.LittleEndian.PutUint64(e[:], epoch)
	return crc32.Update(crc32.Checksum(e[:], crcTable), crcTable, payload)
}

// replayJournal reads a journal of size bytes from r and calls apply with the writes of
// each valid record, in order. It returns the journal's epoch (0 for an empty or
// unreadable header: a journal created, or reset, by a crash's last act) and how many
// records it applied. An error is apply's, a read's (other than the end of the file), or
// a record that passes its CRC but does not decode.
func replayJournal(r io.Reader, size int64, apply func([]write) error) (epoch uint64, records int, err error) {
	end := func(err error) (uint64, int, error) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return epoch, records, nil
		}
		return epoch, records, fmt.Errorf("read journal: %w", err)
	}
	h := make([]byte, journalHeaderSize)
	if _, err := io.ReadFull(r, h); err != nil {
		return end(err)
	}
	if string(h[:8]) != journalMagic || crc32.Checksum(h[:16], crcTable) != binary.LittleEndian.Uint32(h[16:]) {
		return 0, 0, nil
	}
	epoch = binary.LittleEndian.Uint64(h[8:])
	if _, err := io.CopyN(io.Discard, r, journalDataOffset-journalHeaderSize); err != nil {
		return end(err)
	}
	rr := &recordReader{r: r, epoch: epoch, off: journalDataOffset, size: size}
	for {
		at := rr.off
		payload, mismatch, err := rr.next()
		if err != nil {
			return end(err)
		}
		if payload == nil {
			if mismatch && rr.checksNext() {
				return epoch, records, fmt.Errorf("%w: record %d (at byte %d) fails its checksum, and the record after it checks; "+
					"the store is not opened and the journal is left as it is (docs/configuration.md, \"A damaged journal\")",
					ErrJournalDamaged, records+1, at)
			}
			return epoch, records, nil
		}
		writes, err := unpackRecord(payload, &rr.unpacked)
		if err != nil {
			return epoch, records, fmt.Errorf("record %d: %w", records+1, err)
		}
		ws, err := decodeRecord(writes)
		if err != nil {
			return epoch, records, fmt.Errorf("record %d: %w", records+1, err)
		}
		if err := apply(ws); err != nil {
			return epoch, records, fmt.Errorf("record %d: %w", records+1, err)
		}
		records++
	}
}

// ErrJournalDamaged is matched (errors.Is) by the error of Open when a record of the
// journal fails its checksum and the record after it checks. Only the last record can
// be torn by a crash (each is synced before the next is written), so the disk damaged a
// commit that later ones followed: replaying up to it would lose them without a word.
// Open then fails and leaves the journal as it is (docs/configuration.md, "A damaged
// journal").
var ErrJournalDamaged = errors.New("the store's journal is damaged")

// recordReader reads the journal's records in order, from off.
type recordReader struct {
	r         io.Reader
	epoch     uint64
	off, size int64 // the position in the file, and the file's size
	payload   []byte
	unpacked  []byte // a packed record's writes (unpackRecord)
}

// next reads the record at the position and returns its payload (reused by the next
// call), or nil where the journal ends: zeros, a length past the file's end, or a
// record that fails its checksum, which mismatch reports (the position is then past it).
func (rr *recordReader) next() (payload []byte, mismatch bool, err error) {
	var rh [recordHeaderSize]byte
	if _, err := io.ReadFull(rr.r, rh[:]); err != nil {
		return nil, false, err
	}
	rr.off += recordHeaderSize
	n := int64(binary.LittleEndian.Uint32(rh[:]))
	if n == 0 || n > rr.size-rr.off {
		return nil, false, nil
	}
	if int64(cap(rr.payload)) < n {
		rr.payload = make([]byte, n)
	}
	p := rr.payload[:n]
	if _, err := io.ReadFull(rr.r, p); err != nil {
		return nil, false, err
	}
	rr.off += n
	if recordCRC(rr.epoch, p) != binary.LittleEndian.Uint32(rh[4:]) {
		return nil, true, nil
	}
	return p, false, nil
}

// checksNext reports whether a record that checks follows the one next has just
// refused. Past a torn last record lie zeros or what earlier epochs wrote, which fails
// under this epoch (newEpoch); a damaged length is not caught.
func (rr *recordReader) checksNext() bool {
	p, _, err := rr.next()
	return err == nil && p != nil
}

// decodeRecord returns the writes of a record's payload; keys and values alias it.
func decodeRecord(p []byte) ([]write, error) {
	var ws []write
	field := func() ([]byte, error) {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return nil, errors.New("truncated write")
		}
		b := p[k : k+int(n)]
		p = p[k+int(n):]
		return b, nil
	}
	for len(p) > 0 {
		kind := p[0]
		p = p[1:]
		if kind != writeSet && kind != writeDelete {
			return nil, fmt.Errorf("unknown write kind %d", kind)
		}
		key, err := field()
		if err != nil {
			return nil, err
		}
		w := write{key: key, del: kind == writeDelete}
		if !w.del {
			if w.value, err = field(); err != nil {
				return nil, err
			}
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// syncStoreFiles syncs every file of the data directory dir that may hold unsynced
// writes, and the directory. Tables (.sst) are skipped: Badger syncs a table when it
// writes it and never changes it. So are the value-log files numbered below
// j.sealedBelow, which it then moves up to the newest value-log file synced: a data dir
// that one short process after another had used held a value-log file for each, and
// syncing them all took most of a close (docs/performance.md, twenty-fifth pass). A
// file deleted meanwhile is skipped too.
func (j *journal) syncStoreFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	newest := j.sealedBelow
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".sst") || e.Name() == journalName {
			continue
		}
		if n, ok := valueLogNumber(e.Name()); ok {
			if n < j.sealedBelow {
				continue
			}
			newest = max(newest, n)
		}
		if err := j.syncFile(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	j.sealedBelow = newest
	return nil
}

// valueLogNumber returns the number of the value-log file named name (Badger's
// "000042.vlog"); ok is false for any other name.
func valueLogNumber(name string) (n uint64, ok bool) {
	digits, found := strings.CutSuffix(name, ".vlog")
	if !found {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	return n, err == nil
}

// valueLogFiles lists the value-log files of a directory.
type valueLogFiles struct {
	dir    string
	names  []string
	newest uint64 // the number of the newest (0 if none)
	count  int
}

// valueLogs lists the value-log files in dir. It reads the directory only: space reads
// the files' sizes.
func valueLogs(dir string) (valueLogFiles, error) {
	entries, err := os.ReadDir(dir)
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return valueLogFiles{dir: dir, names: names}.above(0), err
}

// above returns the value-log files of v numbered above n (of v's names, those that
// name value-log files).
func (v valueLogFiles) above(n uint64) valueLogFiles {
	w := valueLogFiles{dir: v.dir}
	for _, name := range v.names {
		if m, ok := valueLogNumber(name); ok && m > n {
			w.names = append(w.names, name)
			w.newest, w.count = max(w.newest, m), w.count+1
		}
	}
	return w
}

// space returns the space the files take, and the space all but the newest take.
// Badger may still write the newest, and maps it at twice ValueLogFileSize, sparse:
// where the space a file takes is not known (allocated), that is its size.
func (v valueLogFiles) space() (disk, sealed int64) {
	for _, name := range v.names {
		info, err := os.Stat(filepath.Join(v.dir, name))
		if err != nil {
			continue // deleted meanwhile
		}
		disk += allocated(info)
		if n, _ := valueLogNumber(name); n != v.newest {
			sealed += allocated(info)
		}
	}
	return disk, sealed
}

// syncPath fsyncs the file (or directory: syncDir) at path.
func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
