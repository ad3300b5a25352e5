package badgerstore

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestFailedCommitFailsTheJobPreparedAgainstIt: a round whose second job does not fit
// in the transaction of the first commits the first alone, then the second in a new
// transaction. The second was prepared against the first's writes: when that commit
// fails, the second fails too, and nothing of either is stored.
func TestFailedCommitFailsTheJobPreparedAgainstIt(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20})
	ctx := t.Context()
	// Each job writes six tenths of a transaction's entries: two do not fit in one.
	writes := func(prefix string) []write {
		ws := make([]write, s.c.maxCount*6/10)
		for i := range ws {
			ws[i] = write{key: fmt.Appendf(nil, "%s%06d", prefix, i), value: []byte{1}}
		}
		return ws
	}
	// The first job arms a single failure: the commit of its own transaction.
	var armed atomic.Bool
	s.c.testCommitErr = func() error {
		if armed.CompareAndSwap(true, false) {
			return errors.New("disk failure")
		}
		return nil
	}
	release := holdCommitter(t, s) // the next two queue up into one round
	first := s.c.queue.Enqueue(ctx, func(*badger.Txn) ([]write, error) {
		armed.Store(true)
		return writes("A"), nil
	})
	second := s.c.queue.Enqueue(ctx, func(*badger.Txn) ([]write, error) { return writes("B"), nil })
	release()
	for name, wait := range map[string]func() error{"first": first, "second": second} {
		if err := wait(); err == nil || err.Error() != "task store commit: disk failure" {
			t.Errorf("%s job: %v, want the failed commit", name, err)
		}
	}
	for _, k := range []string{"A000000", "B000000"} {
		err := s.db.View(func(txn *badger.Txn) error { _, err := txn.Get([]byte(k)); return err })
		if !errors.Is(err, badger.ErrKeyNotFound) {
			t.Errorf("key %s after the failed commit: %v, want not found", k, err)
		}
	}
}

// holdCommitter has the committer run a job that waits for the returned function, so
// that the jobs queued meanwhile form one round; the function releases the job and
// waits for it.
func holdCommitter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	started, done := make(chan struct{}), make(chan struct{})
	held := s.c.queue.Enqueue(t.Context(), func(*badger.Txn) ([]write, error) {
		close(started)
		<-done
		return nil, nil
	})
	<-started
	return func() {
		t.Helper()
		close(done)
		if err := held(); err != nil {
			t.Fatalf("the holding job: %v", err)
		}
	}
}
