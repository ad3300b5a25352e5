package badgerstore

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Group commit. Every write (Create, Update, UpdateMany, Delete) is a job sent to one
// committer goroutine. The committer takes every job queued at that moment (up to
// MaxBatch), prepares each in order inside one badger transaction, and commits that
// transaction once: one fsync for the whole batch. While it waits for the disk, new jobs
// queue up and form the next batch, so the batch size adapts to the load.
//
// A job's prepare reads through the transaction, so it sees the writes of the jobs before
// it in the batch. It does every check before returning its writes and writes nothing on
// error, so a failing job fails only its own caller. Because the committer is the only
// writer, reads inside prepare cannot be invalidated by a concurrent transaction and
// badger's conflict detection is off.

// write is one key change of a job: a Set, or a Delete when del is true.
type write struct {
	key, value []byte
	del        bool
}

// Job states: a queued job is taken by the committer or abandoned by its caller
// (context cancelled), whichever happens first.
const (
	jobQueued int32 = iota
	jobTaken
	jobAbandoned
)

// job is one queued write operation.
type job struct {
	// prepare runs on the committer goroutine, inside the batch transaction.
	prepare func(txn *badger.Txn) ([]write, error)
	state   atomic.Int32
	err     error
	done    chan struct{}
}

func newJob(prepare func(txn *badger.Txn) ([]write, error)) *job {
	return &job{prepare: prepare, done: make(chan struct{})}
}

func (j *job) finish(err error) {
	j.err = err
	close(j.done)
}

// errTooBig is returned for a single job whose writes do not fit in one transaction.
var errTooBig = errors.New("the change is too big for one transaction (raise Options.MemTableSize)")

// committer owns the batching loop.
type committer struct {
	db       *badger.DB
	queue    chan *job
	maxBatch int
	stopped  chan struct{}

	// Transaction limits, with a margin below badger's own (ErrTxnTooBig).
	maxCount, maxSize int64
	threshold         int64
	// maxValue is the largest value badger takes: the value-log file size, or the value
	// threshold in memory (where there is no value log).
	maxValue int64

	batches, jobs atomic.Int64 // statistics, for tests and benchmarks
}

func newCommitter(db *badger.DB, maxBatch int, threshold, maxValue int64) *committer {
	c := &committer{
		db: db, queue: make(chan *job, maxBatch), maxBatch: maxBatch, stopped: make(chan struct{}),
		maxCount: db.MaxBatchCount() * 9 / 10, maxSize: db.MaxBatchSize() * 9 / 10,
		threshold: threshold, maxValue: maxValue,
	}
	go c.run()
	return c
}

// run takes batches from the queue until it is closed and drained.
func (c *committer) run() {
	defer close(c.stopped)
	batch := make([]*job, 0, c.maxBatch)
	for {
		j, ok := <-c.queue
		if !ok {
			return
		}
		batch = append(batch[:0], j)
	fill:
		for len(batch) < c.maxBatch {
			select {
			case j, ok := <-c.queue:
				if !ok {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		c.commit(batch)
		clear(batch)
	}
}

// estimate mirrors badger's accounting of a transaction's size.
func (c *committer) estimate(w write) int64 {
	v := int64(len(w.value))
	if v >= c.threshold {
		v = 12
	}
	return int64(len(w.key)) + v + 2 + 10
}

// commit prepares the jobs of a batch in order and commits them together. A job that
// would overflow the transaction starts a new one after committing the current.
func (c *committer) commit(batch []*job) {
	txn := c.db.NewTransaction(true)
	var members []*job
	var count, size int64
	for _, j := range batch {
		if !j.state.CompareAndSwap(jobQueued, jobTaken) {
			continue // abandoned by its caller
		}
		writes, err := j.prepare(txn)
		if err != nil {
			j.finish(err)
			continue
		}
		var sz, biggest int64
		for _, w := range writes {
			sz += c.estimate(w)
			biggest = max(biggest, int64(len(w.value)))
		}
		n := int64(len(writes))
		if biggest > c.maxValue {
			j.finish(fmt.Errorf("%w: a value of %d bytes (at most %d)", errTooBig, biggest, c.maxValue))
			continue
		}
		if count+n >= c.maxCount || size+sz >= c.maxSize {
			if n >= c.maxCount || sz >= c.maxSize {
				// Too big even alone. Prepare wrote nothing, so the batch is intact.
				j.finish(fmt.Errorf("%w: %d keys, %d bytes", errTooBig, n, sz))
				continue
			}
			// The writes were prepared against the state the current transaction is
			// about to commit, so they stay valid in the next one.
			c.flush(txn, members)
			txn = c.db.NewTransaction(true)
			members, count, size = nil, 0, 0
		}
		if err := apply(txn, writes); err != nil {
			// Cannot happen within the limits above; fail the whole transaction rather
			// than commit a job half-written.
			txn.Discard()
			for _, m := range append(members, j) {
				m.finish(fmt.Errorf("task store write: %w", err))
			}
			txn = c.db.NewTransaction(true)
			members, count, size = nil, 0, 0
			continue
		}
		members = append(members, j)
		count += n
		size += sz
	}
	c.flush(txn, members)
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

// flush commits txn and reports the outcome to its jobs.
func (c *committer) flush(txn *badger.Txn, members []*job) {
	if len(members) == 0 {
		txn.Discard()
		return
	}
	err := txn.Commit()
	if err != nil {
		err = fmt.Errorf("task store commit: %w", err)
	}
	c.batches.Add(1)
	c.jobs.Add(int64(len(members)))
	for _, j := range members {
		j.finish(err)
	}
}
