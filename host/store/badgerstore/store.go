package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
)

// ErrClosed is returned by every method called after Close. It is store.ErrClosed.
var ErrClosed = store.ErrClosed

// ErrLocked is matched (errors.Is) by the error of Open when another process holds the
// data directory.
var ErrLocked = errors.New("data dir is in use by another apflow process")

type lockedError struct{ dir string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("data dir %s is in use by another apflow process", e.dir)
}

func (e *lockedError) Unwrap() error { return ErrLocked }

// Store is the Badger implementation of store.Store. It is safe for concurrent use.
type Store struct {
	db      *badger.DB
	journal *journal // nil in memory or with NoSync
	opts    Options
	c       *committer

	mu     sync.RWMutex // guards closed; held (read) by every view in flight, (write) by a big write
	closed bool

	cache *decodeCache

	// Chunked creates (hiding.go): their ids are hidden from readers.
	hideMu       sync.RWMutex           // guards reservations; held (read) while a view begins
	reservations []*reservation         // in progress, and released ones a running view may see part of
	hiding       atomic.Int64           // len(reservations)
	released     atomic.Int64           // how many of them are released
	viewMu       sync.Mutex             // guards viewEpoch and viewsAt
	viewEpoch    uint64                 // advanced by each release
	viewsAt      map[*badger.Txn]uint64 // running views by the epoch they began in, counted while creates are reserved
	// testChunkHook, when set by a test, runs after each committed chunk of a chunked
	// create.
	testChunkHook func(chunk int)

	gcStop, gcDone chan struct{}
	// gcQuietBelow is the space of the value log's files under which no collection runs
	// (collectGarbage), until gcQuietUntil when that is set; only the collecting
	// goroutine uses them.
	gcQuietBelow int64
	gcQuietUntil time.Time
	// liveScans counts the collection's reads of every key (valueLogLive); only the
	// collecting goroutine uses it.
	liveScans int
	// gcRan is set by the collecting goroutine once it has collected (or tried to), and
	// read by Close after it has stopped: such a process needs no maintenance of its value
	// log (maintenance.go).
	gcRan bool
	// testAfterCollect, when set by a test, runs between a collection's rewrites and the
	// checkpoint that ends it.
	testAfterCollect func()
	// valueLogsAtOpen is how many value-log files the store held at Open, but the one
	// Badger started then.
	valueLogsAtOpen int
	// testBeforeMaintain, when set by a test, runs when Close has closed the store and
	// is about to maintain it.
	testBeforeMaintain func()
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store described by opts.
func Open(opts Options) (*Store, error) {
	opts = opts.withDefaults()
	switch {
	case opts.InMemory && opts.Dir != "":
		return nil, fmt.Errorf("task store: Dir %q must be empty with InMemory", opts.Dir)
	case !opts.InMemory && opts.Dir == "":
		return nil, errors.New("task store: Dir is required unless InMemory is set")
	}
	var recorded int64 // the memtable size recorded in Dir (recovery.go)
	if !opts.InMemory {
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("task store: create data dir: %w", err)
		}
		size, rec, err := openMemTableSize(opts.Dir, opts.MemTableSize, opts.Logger)
		if err != nil {
			return nil, fmt.Errorf("task store: open %s: %w", opts.Dir, err)
		}
		recorded = rec
		if size != opts.MemTableSize {
			opts.Logger.Info("opening with the memtable size of the process that last wrote the store and did not close it, to replay its write-ahead logs",
				"memtable_size", size, "asked", opts.MemTableSize)
			opts.MemTableSize = size
		}
	}
	// Badger refuses a value threshold above 15% of the memtable (and 1 MiB). In memory
	// there is no value log: every value must be under the threshold, so it is the
	// largest allowed.
	limit := min(opts.MemTableSize*15/100, 1<<20)
	if opts.InMemory || opts.ValueThreshold > limit {
		opts.ValueThreshold = limit
	}
	maxValue := opts.ValueLogFileSize
	if opts.InMemory {
		maxValue = opts.ValueThreshold
	}
	db, err := badger.Open(opts.badgerOptions())
	if err != nil {
		// Badger does not wrap the flock error; its message is the only signal.
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, &lockedError{dir: opts.Dir}
		}
		return nil, fmt.Errorf("task store: open %s: %w", opts.Dir, err)
	}
	if !opts.InMemory {
		if err := settleMemTableSize(opts.Dir, opts.MemTableSize, recorded); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("task store: open %s: %w", opts.Dir, err)
		}
	}
	var logs valueLogFiles // as Badger's Open left them
	var logsErr error
	if !opts.InMemory {
		logs, logsErr = valueLogs(opts.Dir)
	}
	j, err := recoverStore(db, opts, logs, logsErr)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("task store: open %s: %w", opts.Dir, err)
	}
	if !opts.InMemory {
		if msg := mappingsWarning(tableCount(db), maxMapCount()); msg != "" {
			opts.Logger.Warn(msg, "dir", opts.Dir)
		}
	}
	opts.Logger.Debug("opened", "dir", opts.Dir, "memtable_size", opts.MemTableSize)
	s := &Store{db: db, journal: j, opts: opts, cache: newDecodeCache(opts.DecodeCacheSize, createdCacheBytes),
		valueLogsAtOpen: max(logs.count-1, 0)} // but the one Badger has just started
	s.c = newCommitter(db, j, &s.mu, s.cache, opts.Now, opts.MaxBatch, opts.ValueThreshold, maxValue)
	if !opts.InMemory && opts.GCInterval > 0 {
		s.gcStop, s.gcDone = make(chan struct{}), make(chan struct{})
		go s.gcLoop(opts.GCInterval)
	}
	return s, nil
}

// Close stops accepting writes, commits the queued ones, and closes the database. It is
// safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.gcStop != nil { // before the queue: a collection commits through it
		close(s.gcStop)
		<-s.gcDone
	}
	s.c.queue.Close()
	levelZero := 0
	if !s.opts.InMemory {
		levelZero = levelZeroCount(s.db) + 1 // and the memtable's flush
	}
	if err := s.db.Close(); err != nil {
		if s.journal != nil {
			s.journal.leave()
		}
		return fmt.Errorf("task store: close: %w", err)
	}
	if s.journal != nil {
		if err := s.journal.close(); err != nil {
			return err
		}
	}
	if !s.opts.InMemory {
		logs, _ := valueLogs(s.opts.Dir)
		s.maintainAfterClose(levelZero, logs.count)
	}
	return nil
}

// submit queues prepare as a write job and waits for its commit (groupcommit.Queue.Submit:
// a job still queued when ctx ends is dropped; a taken one is awaited).
func (s *Store) submit(ctx context.Context, prepare func(txn *badger.Txn) ([]write, error)) error {
	return s.c.queue.Submit(ctx, prepare)
}

// admit fails as a call would that does nothing else: with ctx's error, ErrClosed after
// Close, or the committer's error once it is broken. A call given nothing to do answers
// it.
func (s *Store) admit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.use(func() error { return nil })
}

// view runs fn in a read-only transaction. Close waits for running views.
func (s *Store) view(fn func(txn *badger.Txn) error) error {
	return s.use(func() error {
		txn, counted := s.beginView()
		defer s.endView(txn, counted)
		return fn(txn)
	})
}

// use runs fn unless the store is closed (ErrClosed) or holds part of a write
// (committer.broken). Close waits for fn.
func (s *Store) use(fn func() error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	if s.c.broken != nil {
		return s.c.broken
	}
	return fn()
}

// gcLoop garbage-collects the value log (which holds only values of at least
// ValueThreshold bytes).
func (s *Store) gcLoop(every time.Duration) {
	defer close(s.gcDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.gcStop:
			return
		case <-t.C:
			if err := s.collectGarbage(s.gcStop); err != nil {
				s.opts.Logger.Warn("value log garbage collection failed", "error", err)
			}
			s.gcRan = true
		}
	}
}

// collectGarbage rewrites value-log files until none is worth rewriting, or stop is
// closed.
//
// Badger moves the live values of a file it rewrites with unsynced writes, which shadow
// the old ones at once: a crash could find the new places durable and the values not. So
// with a journal, the values the value log holds are restated in the journal first, with
// checkpoints held off until the collection is over and a checkpoint has synced what it
// moved (journal.restate). That costs a read and a write of every such value, so it runs
// only once the value log's files take over twice the space of the values they hold
// live, and, after a collection that rewrote nothing (Badger learns what a file holds
// dead from compactions), once they have grown by a file since: until then it does not
// even read the keys to size the live values. After a check that found them under that,
// it reads them again once the files have grown by one, or after valueLogRecheck.
func (s *Store) collectGarbage(stop <-chan struct{}) error {
	if s.journal == nil {
		_, err := runValueLogGC(s.db, stop)
		return err
	}
	logs, err := valueLogs(s.opts.Dir)
	if err != nil || logs.count < 2 { // Badger never rewrites the newest
		return err
	}
	disk, _ := logs.space()
	if disk < s.gcQuietBelow && (s.gcQuietUntil.IsZero() || s.opts.Now().Before(s.gcQuietUntil)) {
		return nil
	}
	live, err := s.valueLogLive()
	if err != nil {
		return err
	}
	if disk <= 2*live {
		s.gcQuietBelow, s.gcQuietUntil = disk+s.opts.ValueLogFileSize, s.opts.Now().Add(valueLogRecheck)
		return nil
	}
	ctx := context.Background()
	err = s.submit(ctx, func(*badger.Txn) ([]write, error) {
		_, err := s.journal.restate(s.db, live+live/8+journalBufKeep)
		return nil, err
	})
	rewrote := 0
	if err == nil {
		rewrote, err = runValueLogGC(s.db, stop)
		if s.testAfterCollect != nil {
			s.testAfterCollect()
		}
	}
	// Whatever happened, the hold ends (a restatement that failed to write broke the
	// journal, and the release then fails too: the store takes no more writes, and Close
	// leaves the journal, restatement included, for the next Open to replay).
	if rerr := s.submit(ctx, func(*badger.Txn) ([]write, error) { return nil, s.journal.release() }); err == nil {
		err = rerr
	}
	switch {
	case err == nil && rewrote == 0:
		s.gcQuietBelow, s.gcQuietUntil = disk+s.opts.ValueLogFileSize, time.Time{}
	case rewrote > 0: // the next one checks afresh
		s.gcQuietBelow, s.gcQuietUntil = 0, time.Time{}
	}
	return err
}

// valueLogRecheck is how long a collection that found the value log's files under twice
// the space of its live values waits before it reads every key again to check, unless
// the files grow by one: values that deletes and updates leave dead do not grow them.
const valueLogRecheck = time.Hour

// runValueLogGC rewrites value-log files until Badger finds none worth rewriting, or stop
// is closed, and returns how many it rewrote.
func runValueLogGC(db *badger.DB, stop <-chan struct{}) (int, error) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return n, nil
		default:
		}
		err := db.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// valueLogLive returns the size of the values the value log holds live, reading every
// key of the store.
func (s *Store) valueLogLive() (live int64, err error) {
	s.liveScans++
	err = s.db.View(func(txn *badger.Txn) error { // not s.view: Close stops the collection before Badger
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if inValueLog(it.Item()) {
				live += it.Item().ValueSize()
			}
		}
		return nil
	})
	return live, err
}
