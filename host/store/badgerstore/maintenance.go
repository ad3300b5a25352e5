package badgerstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Close's maintenance of a store that short-lived processes write.
//
// Badger keeps a store in shape with background work that a process ending within a
// second or so never does, and `apflow run` of a small tree is such a process:
//
//   - Level 0. Badger's Close flushes the memtable into a new table of level 0, and
//     Badger compacts level 0 into the levels below in the background, but its
//     compactors first wait a random delay of up to a second after Open. Nor does the
//     stall bound level 0, since Close adds its table whatever level 0 holds. After 400
//     runs of a one-task tree level 0 held 407 tables, and each process spent 30 ms
//     opening them and as long closing.
//   - The value log. Badger starts a value-log file at every Open, and a process that
//     writes a value of ValueThreshold bytes or more keeps it: a chunked Create does,
//     with its markers (create.go), which it deletes before it returns. Files whose
//     values are all dead are collected only by the garbage collection a server runs
//     every GCInterval (Store.collectGarbage). After 200 runs of a 1,001-task tree the
//     store held 200 value-log files, and each process spent 80-130 µs on each,
//     opening and closing it (docs/performance.md, twenty-fifth and twenty-sixth passes).
//
// So Close maintains the store when it leaves level 0 with levelZeroStall tables or
// more, as a process that lived longer would have compacted it before a write waited
// for it, or when its value-log files have reached valueLogsCollected, or twice that, or
// four times, ..., since Open, unless the process lived long enough to collect them
// itself (a server). It opens the store again, as any process would, with two
// settings of Badger's (Options.maintenance):
//
//   - SyncWrites. Badger's garbage collection moves the live values of a file it
//     rewrites with writes of its own, which shadow the old values at once. Unsynced,
//     a crash could find the new places durable and the values not; a server's
//     collection restates them in the journal first, which reads every key of the
//     store. Synced, they are durable before a table can hold their new places, and a
//     checkpoint syncs them again, checking the syncs, before Badger deletes the files
//     they left (collectValueLog).
//   - CompactL0OnClose, which merges level 0 into the base level at Close.
//
// It collects the value log (runValueLogGC), rewrites the live values of many small
// value-log files when that pays (consolidate.go), and closes the store. Badger learns
// which values are dead from compactions, so the collection frees the files whose values
// the compactions before it dropped: those of the last maintenance, or of a longer
// process's compactors. One process in about levelZeroStall - levelZeroTables pays for
// the maintenance; Close of a process that lived long enough for the background
// compactions pays for the value log's only every time its files have doubled.
const (
	// levelZeroTables is how many tables level 0 holds when Badger's compactors begin
	// to merge it into the base level (WithNumLevelZeroTables, options.go).
	levelZeroTables = 12
	// levelZeroStall is how many tables level 0 holds when a write waits for those
	// compactions (WithNumLevelZeroTablesStall), and when Close maintains the store.
	levelZeroStall = 24
	// valueLogsCollected is the fewest value-log files at which Close maintains the
	// store for its value log.
	valueLogsCollected = 32
)

// levelZeroCount returns how many tables level 0 of db holds.
func levelZeroCount(db *badger.DB) int {
	for _, l := range db.Levels() {
		if l.Level == 0 {
			return l.NumTables
		}
	}
	return 0
}

// valueLogsCrossed reports whether the value-log files, from opened to closed, reached
// valueLogsCollected (at in tests) or a power-of-two multiple of it.
func valueLogsCrossed(opened, closed, at int) bool {
	for n := max(at, 1); n <= closed; n *= 2 {
		if opened < n {
			return true
		}
	}
	return false
}

// maintainAfterClose maintains the store Close has just closed, which left tables
// tables in level 0 and valueLogs value-log files, when they call for it and the store
// was not itself opened for maintenance.
func (s *Store) maintainAfterClose(tables, valueLogs int) {
	crowded := tables >= cmp.Or(s.opts.compactLevelZeroAt, levelZeroStall)
	grown := !s.gcRan && valueLogsCrossed(s.valueLogsAtOpen, valueLogs, cmp.Or(s.opts.collectValueLogsAt, valueLogsCollected))
	if s.opts.maintenance || !crowded && !grown {
		return
	}
	if s.testBeforeMaintain != nil {
		s.testBeforeMaintain()
	}
	// The store is closed and whole: maintenance that fails leaves it as it is. If
	// another process opened the directory meanwhile, its Close maintains the store
	// when level 0 calls for it; the value log waits for the next doubling.
	if err := maintain(s.opts); err != nil && !errors.Is(err, ErrLocked) {
		s.opts.Logger.Warn("task store: maintenance left for a later process", "level_zero_tables", tables, "value_logs", valueLogs, "error", err)
	}
}

// maintenanceGCBudget is about how long a maintenance spends collecting the value log:
// it finishes the file it is rewriting, and leaves the rest to the next one. Collecting
// the files short processes leave takes milliseconds; a store whose large files are
// worth rewriting (a server's, closed before its own collection) could otherwise hold
// Close for minutes.
const maintenanceGCBudget = time.Second

// maintain collects the value log of the closed store of opts, consolidates it when
// that pays, and merges its level 0 into its base level. It opens the store as any
// process would, so that what another process left meanwhile (the write-ahead logs of
// larger memtables, a journal, after a crash) is recovered first.
func maintain(opts Options) error {
	opts.maintenance = true
	s, err := Open(opts)
	if err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	if opts.testMaintaining != nil {
		opts.testMaintaining(s)
	}
	err = s.collectValueLog()
	if err == nil {
		err = s.consolidateValueLog(context.Background())
	}
	if err := errors.Join(err, s.Close()); err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	return nil
}

// collectValueLog runs Badger's collection of the value log in a store opened for
// maintenance, for up to maintenanceGCBudget.
//
// Badger moves the live values of each file it rewrites, synced (Options.maintenance
// sets SyncWrites), and then deletes the file. But Badger only logs a failed sync of
// the value log, and deletes the file all the same. So an iterator stays open while it
// collects, which makes Badger put the deletions off until the last iterator closes;
// the journal's checkpoint then syncs every file the moves wrote, and the directory,
// checking each sync, and only then is the iterator closed. If the checkpoint fails,
// the journal is broken (the store takes no more writes) and the iterator is left
// open: the files are closed with the store, not deleted.
//
// On systems where Badger's sync of a mapped file is weak (darwin's msync) or does
// nothing (Windows), a memtable flushed during the collection could make a moved
// value's new place durable before the value; the store is meant for Linux
// (docs/decisions.md).
func (s *Store) collectValueLog() error {
	txn := s.db.NewTransaction(false)
	holdDeletions := txn.NewIterator(badger.IteratorOptions{})
	stop := make(chan struct{})
	budget := time.AfterFunc(maintenanceGCBudget, func() { close(stop) })
	defer budget.Stop()
	rewrote, err := runValueLogGC(s.db, stop)
	if err != nil && strings.Contains(err.Error(), "already marked for deletion") {
		// A compaction of this process found more dead in a file rewritten already.
		err = nil
	}
	if s.testAfterCollect != nil {
		s.testAfterCollect()
	}
	if rewrote > 0 && s.journal != nil {
		err = errors.Join(err, s.submit(context.Background(), func(*badger.Txn) ([]write, error) {
			return nil, s.journal.checkpoint()
		}))
	}
	if err != nil {
		return fmt.Errorf("collect the value log (%d files rewritten): %w", rewrote, err)
	}
	holdDeletions.Close()
	txn.Discard()
	return nil
}
