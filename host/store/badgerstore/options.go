package badgerstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"
)

// Options configure a Store. The zero value of every tuning field picks the default
// below, chosen to keep the store's share of a run's RSS small (a few tens of MiB:
// memtables, caches, the decode cache) whatever the number of tasks.
type Options struct {
	// Dir is the data directory (created if missing). Required unless InMemory.
	Dir string
	// InMemory keeps everything in memory (tests); Dir must be empty. Nothing is durable.
	InMemory bool
	// NoSync turns off the journal (journal.go) and with it the sync of every commit. A
	// crash of the machine may then lose the last commits that returned nil (a crash of
	// the process alone loses none: Badger's writes are in the operating system's
	// cache). Only for benchmarks and throw-away data.
	NoSync bool
	// Logger receives badger's log lines (errors, warnings; its info lines at debug
	// level). Nil discards them.
	Logger hclog.Logger
	// Now is the clock that stamps updated_at, and times the value log's collection's
	// rechecks (collectGarbage); nil means time.Now.
	Now func() time.Time

	// MemTableSize is the size of one memtable (default 8 MiB, at most two are kept,
	// plus one being flushed). Each is one Go allocation of about 1.3 times that size
	// (Badger's arena), live until flushed, and its flush builds a table in buffers of
	// about as much again, so the Go heap of a busy store holds several of them and the
	// collector lets the heap grow by as much again: at 64 MiB that alone was over 100
	// MiB of RSS, and 16 MiB instead of 8 cost a 10,000-task run 40-50 MiB of RSS for
	// no measurable throughput. It also bounds one transaction: about 15% of it, in bytes
	// (values under ValueThreshold counted whole) and at 96 bytes per entry. With the
	// defaults a transaction takes about 1.2 MB and 13,000 entries: a run's round of
	// 1,000 status changes (about 8 entries each) fits; a larger Create, Delete or
	// UpdateMany is committed in chunks. It may differ from one Open of a store to the
	// next, except that a store a process did not close opens with the larger size of
	// that process, until it is closed (recovery.go).
	MemTableSize int64
	// BlockCacheSize is the cache of decompressed table blocks (default 8 MiB).
	BlockCacheSize int64
	// IndexCacheSize is the cache of table indexes and bloom filters (default 4 MiB).
	IndexCacheSize int64
	// ValueLogFileSize is the size of one value-log file (default 64 MiB).
	ValueLogFileSize int64
	// ValueThreshold is the value size from which values go to the value log (default
	// 512 bytes, capped at 15% of MemTableSize; in memory, where there is no value log, it
	// is that cap and also the largest value stored). A small task's stored value (about
	// 200 bytes, value.go; a few dependencies add 60-80 bytes each) stays under it, in the
	// LSM tree: a commit that completes such a task and starts its dependent writes the
	// memtable's write-ahead log. A task with larger inputs or result, or many
	// dependencies (an aggregator), goes to the value log, and a commit that writes one
	// writes both files (at 256 bytes the tasks of a chain, one dependency each and about
	// 360 bytes, did: docs/performance.md). Badger syncs neither (but in the store
	// Close's maintenance opens, maintenance.go): the journal is the one file a commit
	// syncs (journal.go), and the files are synced at each checkpoint, so the value log
	// costs a commit its writes, not a sync. A higher threshold keeps more tasks in
	// the LSM tree, whose memtables then fill, flush and compact more
	// often: with the JSON values of earlier versions (about 640 bytes) at 1 KiB,
	// BenchmarkWide10k was 25-35% slower and its peak RSS 70-110 MiB higher.
	ValueThreshold int64
	// NumCompactors is the number of compaction goroutines (default 2, the minimum).
	NumCompactors int
	// MaxBatch is the largest number of queued writes that share one commit (default
	// 1024).
	MaxBatch int
	// DecodeCacheSize is the number of decoded tasks kept to spare decoding the value of
	// a task that was just written or read (default 1024; negative disables it). Each
	// costs about the size of the task several times over (its stored value and its
	// decoded form, a graph of pointers the collector marks at every cycle), and the
	// collector doubles that in RSS. A run hits the cache on its in-flight tasks (the
	// engine runs 64 at a time by default; a task that ends is not kept), which a
	// thousand entries cover: at 4096, a
	// 10,000-task apflow run took 3-5% more CPU and BenchmarkRun10k peaked 45-64 MiB
	// higher than at 1024, at 16384 some 80 MiB higher, for no throughput a benchmark
	// could show (docs/performance.md, twentieth pass). The tasks a Create stores beyond
	// these are kept undecoded, up to 8 MiB of their stored values, until their first
	// update or a later Create needs the room (decodeCache); disabling the cache drops
	// them too.
	DecodeCacheSize int
	// GCInterval is how often the value log is garbage collected (default 10 minutes;
	// negative disables it). Close also collects it, in its maintenance of a store that
	// short-lived processes write (maintenance.go), whatever GCInterval is.
	GCInterval time.Duration

	// maintenance opens the store for Close's maintenance of it (maintenance.go):
	// Badger syncs every write, and its Close merges level 0 into the base level.
	maintenance bool
	// compactLevelZeroAt is how many tables of level 0 make Close maintain the store
	// (levelZeroStall when 0); tests lower it, below the count at which Badger's own
	// compactions begin, so that theirs does not depend on those.
	compactLevelZeroAt int
	// collectValueLogsAt is how many value-log files make Close maintain the store
	// (valueLogsCollected when 0); tests lower it.
	collectValueLogsAt int
	// testMaintaining, when set by a test, is given the store a maintenance has opened,
	// before it collects the value log.
	testMaintaining func(*Store)
}

// Defaults of Options.
const (
	DefaultMemTableSize     = 8 << 20
	DefaultBlockCacheSize   = 8 << 20
	DefaultIndexCacheSize   = 4 << 20
	DefaultValueLogFileSize = 64 << 20
	DefaultValueThreshold   = 512
	DefaultNumCompactors    = 2
	DefaultMaxBatch         = 1024
	DefaultGCInterval       = 10 * time.Minute
	DefaultDecodeCacheSize  = 1024
)

func (o Options) withDefaults() Options {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MemTableSize, DefaultMemTableSize)
	def(&o.BlockCacheSize, DefaultBlockCacheSize)
	def(&o.IndexCacheSize, DefaultIndexCacheSize)
	def(&o.ValueLogFileSize, DefaultValueLogFileSize)
	def(&o.ValueThreshold, DefaultValueThreshold)
	if o.NumCompactors < 2 {
		o.NumCompactors = DefaultNumCompactors
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.DecodeCacheSize == 0 {
		o.DecodeCacheSize = DefaultDecodeCacheSize
	}
	if o.GCInterval == 0 {
		o.GCInterval = DefaultGCInterval
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// badgerOptions translates o (with defaults applied) into badger's options.
func (o Options) badgerOptions() badger.Options {
	bo := badger.DefaultOptions(o.Dir).
		WithInMemory(o.InMemory).
		// The store's journal makes commits durable, with one sync each (journal.go).
		// Close's maintenance syncs the values Badger's garbage collection moves
		// (maintenance.go).
		WithSyncWrites(o.maintenance).
		WithLogger(badgerLogger{o.Logger.Named("badger")}).
		WithMetricsEnabled(false).
		WithNumGoroutines(2).
		WithMemTableSize(o.MemTableSize).
		WithNumMemtables(2).
		// Level 0 is compacted into the base level once it holds twelve tables, not two.
		// A memtable's table holds index entries of every kind, so its keys span nearly
		// the whole key space and each such compaction rewrites every table of the base
		// level: merging twelve flushes at a time rewrites it a sixth as often. A
		// 1,000,000-task run took 30% less time, a 100,000-task run 27% less, and its
		// peak RSS was 22% lower; six tables did half as well, twenty no better than
		// twelve (docs/performance.md, eleventh pass). A read looks in up to eleven
		// more tables' bloom filters.
		// Close compacts level 0 itself when a process ends before the compactors began
		// (maintenance.go).
		WithNumLevelZeroTables(levelZeroTables).
		WithNumLevelZeroTablesStall(levelZeroStall).
		// Badger gives each table it builds (a memtable's flush, a compaction's output) an
		// allocator of twice this size up front, whose buffers double: 2, 4, 8, 16 MiB at
		// 1 MiB (2, 6, 14, 30 in all). A builder holds its table twice (each block as
		// written, and room for it compressed), and Badger pools its allocators, so each
		// keeps the size of the largest table it built: at 2 MiB, a compaction's table (2
		// MiB compressed, up to 17 MiB of buffers) and the flush of an 8 MiB memtable of
		// small tasks (12.5 MiB) both took 28 MiB, at 1 MiB 14. (A flush of tasks stored
		// whole near 512 bytes, or of larger memtables, takes about as much with either.) A
		// million-task tasks.execute peaked 199-238 MiB lower, a 100,000-task one held
		// 16-51 MiB less live heap, both in as much time (docs/performance.md,
		// twenty-ninth pass; from 4 MiB to 2, the sixth pass). A store holds twice as many
		// tables, each 90-160 µs of an Open.
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(16 << 20).
		WithBlockCacheSize(o.BlockCacheSize).
		WithIndexCacheSize(o.IndexCacheSize).
		WithValueLogFileSize(o.ValueLogFileSize).
		WithValueThreshold(o.ValueThreshold).
		WithNumCompactors(o.NumCompactors).
		// Badger's compaction of level 0 at close merged the memtable's last table with
		// every table of level 1 it overlaps, and a task's index entries overlap them all:
		// each writing process rewrote level 1 on its way out, so a run of 1,000 tasks
		// took 0.3 s in a fresh data dir and 0.8 s after 100 others. Left off, level 0
		// keeps the last process's tables and a later one compacts them in the
		// background, or, when level 0 reaches levelZeroStall tables, at its Close
		// (maintenance.go; docs/performance.md, tenth and twenty-fifth passes).
		WithCompactL0OnClose(o.maintenance).
		// Only the committer goroutine writes, so there is nothing to detect.
		WithDetectConflicts(false)
	// Tables are BaseTableSize at every level, not twice as large a level down: a
	// compaction keeps up to a dozen tables in builders at once, each holding its whole
	// table twice (as written, and compressed), so with tables growing with the level a
	// long-running server's memory grew with its store (after 600,000 tasks of 1,001-task
	// requests, 1,015 MiB of RSS against 599; docs/performance.md, twenty-fifth pass).
	// A store holds twice as many tables at the last level, which an Open opens (about
	// 160 ms a GB with tables of 1 MiB).
	bo.TableSizeMultiplier = 1
	if o.InMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	return bo
}

// badgerLogger adapts hclog to badger's logger. Badger's info lines are routine (tables
// opened, compactions) and go out at debug level, and so do its cache advice warnings
// (cacheAdvice): a long run prints them every minute, and its caches are not the
// operator's to size.
type badgerLogger struct{ l hclog.Logger }

// cacheAdvice reports whether format is one of Badger's periodic warnings that a cache
// "might be too small" (its block and index caches are sized by Options, not by
// configuration).
func cacheAdvice(format string) bool {
	switch format {
	case "%s might be too small. Metrics: %s\n", "Cache life expectancy (in seconds): %+v\n":
		return true
	}
	return false
}

func msg(format string, args ...any) string {
	return strings.TrimRight(fmt.Sprintf(format, args...), "\n")
}

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.l.IsError() {
		b.l.Error(msg(f, a...))
	}
}

func (b badgerLogger) Warningf(f string, a ...any) {
	if cacheAdvice(f) {
		b.Infof(f, a...)
		return
	}
	if b.l.IsWarn() {
		b.l.Warn(msg(f, a...))
	}
}

func (b badgerLogger) Infof(f string, a ...any) {
	if b.l.IsDebug() {
		b.l.Debug(msg(f, a...))
	}
}

func (b badgerLogger) Debugf(f string, a ...any) {
	if b.l.IsTrace() {
		b.l.Trace(msg(f, a...))
	}
}
