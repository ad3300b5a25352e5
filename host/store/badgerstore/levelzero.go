package badgerstore

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Level 0 of a store that short-lived processes write.
//
// Badger's Close flushes the memtable into a new table of level 0, and Badger compacts
// level 0 into the levels below in the background, but its compactors first wait a
// random delay of up to a second after Open. A process that ends sooner, as `apflow
// run` of a small tree does, adds a table to level 0 and compacts nothing; nor does the
// stall bound them, since Close adds its table whatever level 0 holds. After 400 runs of
// a one-task tree level 0 held 407 tables, and each process spent 30 ms opening them and
// as long closing (docs/performance.md, twenty-fifth pass).
//
// So Close compacts level 0 when it leaves it with levelZeroStall tables or more, as a
// process that lived longer would have before a write waited for it: it opens the store
// again, as any process would, with Badger's compaction of level 0 at close
// (CompactL0OnClose), which merges level 0 into the base level, and closes it. One
// process in about levelZeroStall - levelZeroTables pays for that compaction; Close of
// a process that lived long enough for the background ones pays nothing.
const (
	// levelZeroTables is how many tables level 0 holds when Badger's compactors begin
	// to merge it into the base level (WithNumLevelZeroTables, options.go).
	levelZeroTables = 12
	// levelZeroStall is how many tables level 0 holds when a write waits for those
	// compactions (WithNumLevelZeroTablesStall), and when Close compacts it.
	levelZeroStall = 24
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

// compactCrowdedLevelZero compacts level 0 of the store Close has just closed, which
// left tables tables there, when they are levelZeroStall or more (compactLevelZeroAt in
// tests) and the store was not itself opened for such a compaction.
func (s *Store) compactCrowdedLevelZero(tables int) {
	if tables < cmp.Or(s.opts.compactLevelZeroAt, levelZeroStall) || s.opts.compactLevelZero {
		return
	}
	if s.testBeforeCompact != nil {
		s.testBeforeCompact()
	}
	// The store is closed and whole: a compaction that fails leaves it as it is.
	// Another process that opened the directory meanwhile compacts it instead.
	if err := compactLevelZero(s.opts); err != nil && !errors.Is(err, ErrLocked) {
		s.opts.Logger.Warn("task store: level 0 left for a later process to compact", "tables", tables, "error", err)
	}
}

// compactLevelZero merges level 0 of the closed store of opts into its base level. It
// opens the store as any process would, so that what another process left meanwhile
// (the write-ahead logs of larger memtables, a journal, after a crash) is recovered
// first.
func compactLevelZero(opts Options) error {
	opts.compactLevelZero = true
	s, err := Open(opts)
	if err != nil {
		return fmt.Errorf("compact level 0: %w", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("compact level 0: %w", err)
	}
	return nil
}
