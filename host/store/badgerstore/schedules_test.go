package badgerstore

import (
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestScheduleIndexesBuiltForOldData: a data directory written before the schedule
// indexes existed (simulated by removing them and their marker) has them built at Open.
func TestScheduleIndexesBuiltForOldData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	job := mk("job", "", 0)
	job.ScheduleType, job.ScheduleExpression, job.ScheduleEnabled = "interval", "60", true
	job.NextRunAt = time.Date(2025, 1, 1, 0, 1, 0, 0, time.UTC)
	if err := s.Create(t.Context(), []*task.Task{job}); err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		for _, p := range [][]byte{{prefixDue}, {prefixScheduled}, {prefixMeta}} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
			var keys [][]byte
			for it.Rewind(); it.Valid(); it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			it.Close()
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	q := store.DueQuery{Before: job.NextRunAt}
	if got, err := s.Due(t.Context(), q); err != nil || len(got) != 0 {
		t.Fatalf("Due without indexes = %v, %v; want none (the simulation failed)", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = setup(t, Options{Dir: dir})
	got, err := s.Due(t.Context(), q)
	if err != nil || len(got) != 1 || got[0].ID != "job" {
		t.Fatalf("Due after reopening = %v, %v; want job", got, err)
	}
	if _, n, err := s.Scheduled(t.Context(), store.ScheduleQuery{}); err != nil || n != 1 {
		t.Fatalf("Scheduled after reopening: %d, %v; want 1", n, err)
	}
}
