package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// What Open recovers from a process that did not close the store, when the process that
// opens it is configured otherwise: another Options.MemTableSize (apflow run sizes its
// memtables to the tree it submits).
//
// Badger replays the write-ahead logs (*.mem files) such a process left into memtables
// of the size it is opened with, and when a log holds more than fits it exits the
// process (log.Fatalf, not an error). So the store records in its dir the memtable size
// it opens with (memTableFile), before Badger creates a log of that size, and while logs
// are left it opens with the recorded size if that is larger (openMemTableSize). A clean
// Close leaves no log.
//
// The transactions Badger takes are bounded by the memtable size too, and a create's
// chunks and a big write's undo records were sized to the bounds of the process that
// wrote them: Open applies their undo in as many transactions as its own bounds take,
// the marker or record deleted last (commitInBatches), so that an undo interrupted in
// turn is done again whole.

// memTableFile is the file, in the store's dir, that records the memtable size of the
// last process that opened the store: a decimal number of bytes.
const memTableFile = "APFLOW-MEMTABLE"

// openMemTableSize returns the memtable size to open the store in dir with when
// requested is asked for, and records it in dir: requested, or the recorded size of
// an earlier process when that is larger and it left write-ahead logs.
func openMemTableSize(dir string, requested int64) (int64, error) {
	recorded, err := readMemTableSize(dir)
	if err != nil {
		return 0, err
	}
	size := requested
	if recorded > requested {
		left, err := leftLogs(dir)
		if err != nil {
			return 0, err
		}
		if left {
			size = recorded
		}
	}
	if size != recorded {
		if err := writeMemTableSize(dir, size); err != nil {
			return 0, err
		}
	}
	return size, nil
}

// readMemTableSize returns the size memTableFile records in dir, 0 when there is none
// (a new store, or one written before the file existed, always with the default).
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

// writeMemTableSize records size in dir durably: a crash leaves the old record or
// the new one.
func writeMemTableSize(dir string, size int64) error {
	tmp := filepath.Join(dir, memTableFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
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
		err = os.Rename(tmp, filepath.Join(dir, memTableFile))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("record the memtable size: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// leftLogs reports whether dir holds write-ahead logs of memtables (*.mem files),
// which only a process that did not close the store leaves.
func leftLogs(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("list the store's files: %w", err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".mem") {
			return true, nil
		}
	}
	return false, nil
}

// commitInBatches commits ws in order in as many transactions as db takes, each at
// most half of Badger's bounds (its size estimate counts a value in the value log as a
// pointer; this one counts it whole). Only for Open's recovery and a big write's undo,
// whose writes can all be applied again after a crash.
func commitInBatches(db *badger.DB, ws []write) error {
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
		if err := txn.Commit(); err != nil {
			return err
		}
		ws = ws[n:]
	}
	return nil
}
