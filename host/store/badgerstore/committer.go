package badgerstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store/groupcommit"
)

// Group commit. Every write (Create, Update, UpdateMany, Delete) is a job of one
// groupcommit.Queue, whose rounds hold every job queued at that moment (up to MaxBatch).
// The committer prepares the jobs of a round in order inside one badger transaction and
// commits that transaction once: one sync of the journal for the whole round (journal.go). While it waits for the
// disk, new jobs queue up and form the next round, so the round size adapts to the load.
//
// A job's prepare reads through the transaction, so it sees the writes of the jobs before
// it in the round. It does every check before returning its writes and writes nothing on
// error, so a job whose prepare fails fails only its own caller. A commit that fails
// fails every job of its transaction, and the job prepared against that transaction's
// state that did not fit in it (commit: it is not committed against another state).
// Because the committer is the only writer, reads inside prepare cannot be invalidated
// by a concurrent transaction and badger's conflict detection is off.

// write is one key change of a job: a Set, or a Delete when del is true.
type write struct {
	key, value []byte
	del        bool
}

// job is one queued write operation. prepare runs on the committer goroutine, inside the
// round transaction.
type job = groupcommit.Job[func(txn *badger.Txn) ([]write, error)]

// errTooBig is returned for a job with a value larger than Badger takes.
var errTooBig = errors.New("the change is too big for the task store")

// committer commits the rounds of its queue.
type committer struct {
	db    *badger.DB
	queue *groupcommit.Queue[func(txn *badger.Txn) ([]write, error)]

	// Transaction limits, with a margin below badger's own (ErrTxnTooBig).
	maxCount, maxSize int64
	threshold         int64
	// maxValue is the largest value badger takes: the value-log file size, or the value
	// threshold in memory (where there is no value log).
	maxValue int64

	// views is held for reading by every read of the store; a job too big for one
	// transaction holds it for writing while it is committed in chunks (bigwrite.go).
	views    *sync.RWMutex
	now      func() time.Time
	inMemory bool // no undo records are stored (bigwrite.go)
	// testChunkHook, when set by a test, runs after each committed chunk of a big write.
	testChunkHook func(chunk int)
	// testCommitErr, when set by a test, is asked before each commit of a round's
	// transaction: an error fails the commit as Badger's would.
	testCommitErr func() error
	// testBigWriteErr, when set by a test, is asked before each commit of a big write's
	// chunk (restore false) and each restore of one (restore true): an error fails it as
	// Badger's would.
	testBigWriteErr func(restore bool, chunk int) error

	// broken, once set, fails every later job and read: a big write failed and so did
	// the undo of its committed chunks, whose records the next Open restores over
	// anything written meanwhile (bigwrite.go). It is set with views held for writing
	// (commitBig), and read on the committer goroutine or with views held.
	broken error

	// cache learns which task values each commit stored (decodeCache.committed).
	cache *decodeCache
	// journal makes each commit durable (nil in memory or with NoSync).
	journal *journal

	batches, jobs atomic.Int64 // statistics, for tests and benchmarks
	// reads counts the tasks its jobs read from Badger (readStored), for tests.
	reads atomic.Int64
}

func newCommitter(db *badger.DB, j *journal, views *sync.RWMutex, cache *decodeCache, now func() time.Time, maxBatch int, threshold, maxValue int64) *committer {
	c := &committer{
		db: db, journal: j, cache: cache,
		maxCount: db.MaxBatchCount() * 9 / 10, maxSize: db.MaxBatchSize() * 9 / 10,
		threshold: threshold, maxValue: maxValue, views: views, now: now,
		inMemory: db.Opts().InMemory,
	}
	c.queue = groupcommit.New(maxBatch, c.commit)
	return c
}

// fitsHalf reports whether writes of this count and estimated size take less than half
// of a transaction: a share that leaves room for the other jobs of a round (a chunk of
// a create, a job of log appends).
func (c *committer) fitsHalf(count, size int64) bool {
	return count < c.maxCount/2 && size < c.maxSize/2
}

// estimate mirrors badger's accounting of a transaction's size.
func (c *committer) estimate(w write) int64 { return c.estimateLen(len(w.key), len(w.value)) }

// estimateLen is estimate of a write of a key and a value of these lengths.
func (c *committer) estimateLen(key, value int) int64 {
	v := int64(value)
	if v >= c.threshold {
		v = 12
	}
	return int64(key) + v + 2 + 10
}

// commit prepares the jobs of a round in order and commits them together. A job that
// would overflow the transaction starts a new one after committing the current; a job
// too big for any transaction is committed alone, in chunks (bigwrite.go).
func (c *committer) commit(round []*job) {
	txn := c.db.NewTransaction(true)
	var members []*job
	var written [][]write // the members' writes
	var count, size int64
	for _, j := range round {
		if c.broken != nil { // since an earlier round, or a big write of this one
			j.Finish(c.broken)
			continue
		}
		writes, err := j.Payload(txn)
		if err != nil {
			j.Finish(err)
			continue
		}
		var sz int64
		biggest := -1
		for i, w := range writes {
			sz += c.estimate(w)
			if biggest < 0 || len(w.value) > len(writes[biggest].value) {
				biggest = i
			}
		}
		n := int64(len(writes))
		if biggest >= 0 && int64(len(writes[biggest].value)) > c.maxValue {
			j.Finish(c.tooBig(writes[biggest]))
			continue
		}
		if count+n >= c.maxCount || size+sz >= c.maxSize {
			if n >= c.maxCount || sz >= c.maxSize {
				// Too big even alone. Prepare wrote nothing, so the batch is intact:
				// commit it, then this job in chunks, then go on with a new one.
				err := c.flush(txn, members, written)
				if err == nil {
					err = c.commitBig(writes)
				}
				c.batches.Add(1)
				c.jobs.Add(1)
				j.Finish(err)
				txn = c.db.NewTransaction(true)
				members, written, count, size = nil, nil, 0, 0
				continue
			}
			// The writes were prepared against the state the current transaction is
			// about to commit, so they stay valid in the next one, unless that commit
			// fails: then the job fails too.
			err := c.flush(txn, members, written)
			txn = c.db.NewTransaction(true)
			members, written, count, size = nil, nil, 0, 0
			if err != nil {
				j.Finish(err)
				continue
			}
		}
		c.cache.applied(writes) // before a later job of the transaction reads them
		if err := apply(txn, writes); err != nil {
			// Cannot happen within the limits above; fail the whole transaction rather
			// than commit a job half-written.
			txn.Discard()
			for _, m := range append(members, j) {
				m.Finish(fmt.Errorf("task store write: %w", err))
			}
			txn = c.db.NewTransaction(true)
			members, written, count, size = nil, nil, 0, 0
			continue
		}
		members = append(members, j)
		written = append(written, writes)
		count += n
		size += sz
	}
	c.flush(txn, members, written)
}

func apply(txn *badger.Txn, writes []write) error {
	for _, w := range writes {
		var err error
		if w.del {
			err = txn.Delete(w.key)
		} else {
			err = txn.Set(w.key, w.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// flush commits txn, reports the outcome to its jobs and returns it.
func (c *committer) flush(txn *badger.Txn, members []*job, written [][]write) error {
	if len(members) == 0 {
		txn.Discard()
		return nil
	}
	var err error
	if c.testCommitErr != nil {
		err = c.testCommitErr()
	}
	if err == nil {
		err = c.journal.commit(txn, written...)
	} else {
		txn.Discard()
	}
	if err != nil {
		err = fmt.Errorf("task store commit: %w", err)
	} else {
		c.cache.committed(written)
	}
	c.batches.Add(1)
	c.jobs.Add(int64(len(members)))
	for _, j := range members {
		j.Finish(err)
	}
	return err
}

// tooBig is the error of a write whose value is larger than Badger takes, naming the task
// when the value is one.
func (c *committer) tooBig(w write) error {
	if len(w.key) > 0 && w.key[0] == prefixTask {
		if id, _, err := readString(w.key[1:]); err == nil {
			return fmt.Errorf("%w: task %s is %d bytes stored (its inputs, params, dependencies and result together), at most %d",
				errTooBig, id, len(w.value), c.maxValue)
		}
	}
	return fmt.Errorf("%w: a value of %d bytes (at most %d)", errTooBig, len(w.value), c.maxValue)
}
