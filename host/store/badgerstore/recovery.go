package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
)

// What Open recovers from a process that did not close the store, when the process that
// opens it is configured otherwise: another Options.MemTableSize (apflow run sizes its
// memtables to the tree it submits).
//
// Badger replays the write-ahead logs (*.mem files) such a process left into memtables
// of the size it is opened with, and when a log holds more than fits it exits the
// process (log.Fatalf, not an error). So while logs are left, the store opens with the
// size their writer used when that is larger than asked (openMemTableSize): the size it
// records in its dir (memTableFile), or half the largest log file (Badger gives a new
// log twice the memtable size; a log replayed once is cut to what it holds, which is
// why the record is kept too). The record is raised before Badger can write a log of a
// larger size, and lowered only once the open holds Badger's lock (settleMemTableSize):
// a process that then fails to get the lock must not lower the record of the one that
// holds it. A clean Close leaves no log.
//
// The transactions Badger takes are bounded by the memtable size too, and a create's
// chunks and a big write's undo records were sized to the bounds of the process that
// wrote them: Open applies their undo in as many transactions as its own bounds take,
// the marker or record deleted last (commitInBatches), so that an undo interrupted in
// turn is done again whole.

// memTableFile is the file, in the store's dir, that records the memtable size of the
// process that holds the store or last held it: a decimal number of bytes.
const memTableFile = "APFLOW-MEMTABLE"

// openMemTableSize returns the memtable size to open the store in dir with when
// requested is asked for, raising the record to it, and the size recorded now. A record
// that cannot be read is logged and ignored: the logs' sizes still bound what they hold.
func openMemTableSize(dir string, requested int64, log hclog.Logger) (size, recorded int64, err error) {
	recorded, err = readMemTableSize(dir)
	if err != nil {
		log.Warn("ignoring the recorded memtable size", "error", err)
		recorded = 0
	}
	logSize, err := largestLog(dir)
	if err != nil {
		return 0, 0, err
	}
	size = requested
	if logSize > 0 {
		size = max(size, recorded, logSize/2)
	}
	if size > recorded {
		if err := writeMemTableSize(dir, size); err != nil {
			return 0, 0, err
		}
		recorded = size
	}
	return size, recorded, nil
}

// settleMemTableSize records size, the one the store was opened with, in place of
// recorded (openMemTableSize), once the open holds Badger's lock.
func settleMemTableSize(dir string, size, recorded int64) error {
	if recorded == size {
		return nil
	}
	return writeMemTableSize(dir, size)
}

// readMemTableSize returns the size memTableFile records in dir, 0 when there is none
// (a new store, or one written before the file existed).
func readMemTableSize(dir string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, memTableFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the memtable size: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s holds %q, not a memtable size in bytes", filepath.Join(dir, memTableFile), b)
	}
	return n, nil
}

// writeMemTableSize records size in dir durably: a crash leaves the old record or the
// new one. Each writer writes its own temporary file.
func writeMemTableSize(dir string, size int64) error {
	f, err := os.CreateTemp(dir, memTableFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("record the memtable size: %w", err)
	}
	_, err = f.WriteString(strconv.FormatInt(size, 10) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, memTableFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("record the memtable size: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable. Windows cannot sync a directory (Badger does
// not either).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	return syncPath(dir)
}

// largestLog returns the size of the largest write-ahead log of a memtable (*.mem
// file) in dir, 0 when there is none: only a process that did not close the store
// leaves one.
func largestLog(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("list the store's files: %w", err)
	}
	var largest int64
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".mem") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return 0, fmt.Errorf("list the store's files: %w", err)
		}
		largest = max(largest, info.Size())
	}
	return largest, nil
}

// commitInBatches commits ws in order in as many transactions as db takes, each at
// most half of Badger's bounds (its size estimate counts a value in the value log as a
// pointer; this one counts it whole), each through j (nil: unjournaled, for the
// journal's own replay). Only for Open's recovery and a big write's undo, whose writes
// can all be applied again after a crash.
func commitInBatches(db *badger.DB, j *journal, ws []write) error {
	maxCount, maxSize := db.MaxBatchCount()/2, db.MaxBatchSize()/2
	for len(ws) > 0 {
		txn := db.NewTransaction(true)
		n, size := 0, int64(0)
		for n < len(ws) && int64(n) < maxCount {
			sz := int64(len(ws[n].key)+len(ws[n].value)) + 32
			if n > 0 && size+sz > maxSize {
				break
			}
			if err := apply(txn, ws[n:n+1]); err != nil {
				txn.Discard()
				return err
			}
			size += sz
			n++
		}
		if err := j.commit(txn, ws[:n]); err != nil {
			return err
		}
		ws = ws[n:]
	}
	return nil
}

// recoverStore brings a store Badger has just opened back to its last committed state:
// it replays the journal (on disk: with NoSync too, which then empties it and returns a
// nil journal, so that no later Open replays it over newer writes; in memory there is
// none), then undoes what writes a crash interrupted, and indexes the schedules of
// stores written before those indexes existed.
// Each step commits through the journal, and repeats what it did not finish if a crash
// interrupts it.
//
// logs lists the value-log files after Badger's Open (logsErr: what listing them met).
func recoverStore(db *badger.DB, opts Options, logs valueLogFiles, logsErr error) (*journal, error) {
	var j *journal
	if !opts.InMemory {
		var n int
		var err error
		if j, n, err = openJournal(db, opts.Dir, opts.Logger, logs, logsErr); err != nil {
			return nil, err
		}
		if n > 0 {
			opts.Logger.Info("replayed the commits of the journal", "records", n)
		}
		if opts.NoSync { // openJournal left it empty, and durably so
			// Without its header too: nothing this process writes is synced, and the
			// next process's first checkpoint must sync every file (journal.sealedBelow).
			if j.direct != nil {
				j.direct.stopFill() // none runs (Open's write starts none), and none ever will
			}
			err := j.f.Truncate(0)
			if err == nil {
				err = datasync(j.f)
			}
			j.leave()
			if err != nil {
				return nil, fmt.Errorf("empty journal: %w", err)
			}
			j = nil
		}
	}
	fail := func(err error) (*journal, error) {
		if j != nil {
			j.leave()
		}
		return nil, err
	}
	if n, err := undoBigWrites(db, j); err != nil {
		return fail(err)
	} else if n > 0 {
		opts.Logger.Warn("restored what writes a crash interrupted had changed", "chunks", n)
	}
	if n, err := undoInterrupted(db, j); err != nil {
		return fail(err)
	} else if n > 0 {
		opts.Logger.Warn("deleted the stored part of creates a crash interrupted", "chunks", n)
	}
	if n, err := indexSchedules(db, j); err != nil {
		return fail(fmt.Errorf("index schedules: %w", err))
	} else if n > 0 {
		opts.Logger.Info("indexed the schedules of tasks stored before schedule indexes existed", "tasks", n)
	}
	return j, nil
}
