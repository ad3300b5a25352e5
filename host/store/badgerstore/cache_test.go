package badgerstore

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestCommitterKnowsWhatItStored: the committer's jobs do not read back the tasks a
// commit just stored (created or updated; a task written earlier in the same
// transaction is read, from the transaction's own writes), and what they see instead is
// what a read sees: after two mutations of a task in one update, a delete and a create
// of the same id, writes by jobs that leave the cache alone (in a transaction, and too
// big for one), and concurrent updates of one task. TestCommittedLastWriteDecides holds
// the rounds still to put several jobs in one transaction.
func TestCommitterKnowsWhatItStored(t *testing.T) {
	t.Parallel()
	progress := func(p float64) func(*task.Task) error {
		return func(x *task.Task) error { x.Progress = p; return nil }
	}
	setupTasks := func(t *testing.T, s *Store, n int) {
		t.Helper()
		var ts []*task.Task
		for i := range n {
			ts = append(ts, mk(fmt.Sprintf("t%d", i), "", i))
		}
		if err := s.Create(t.Context(), ts); err != nil {
			t.Fatal(err)
		}
	}
	updateAll := func(t *testing.T, s *Store, n int, p float64) {
		t.Helper()
		var muts []store.Mutation
		for i := range n {
			muts = append(muts, store.Mutation{ID: fmt.Sprintf("t%d", i), Fn: progress(p)})
		}
		if _, err := s.UpdateMany(t.Context(), muts); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name  string
		run   func(t *testing.T, s *Store)
		reads int64 // tasks the committer read from Badger, at most
		want  map[string]float64
	}{
		{"created beyond the decoded entries", func(t *testing.T, s *Store) {
			s.opts.DecodeCacheSize = 3
			setupTasks(t, s, 10) // 3 decoded, 7 created entries
			updateAll(t, s, 10, 0.25)
			updateAll(t, s, 10, 0.5)
		}, 0, map[string]float64{"t0": 0.5, "t9": 0.5}},
		{"created beyond the created entries' bytes", func(t *testing.T, s *Store) {
			e, err := encode(mk("t5", "", 5)) // as long as the values of t2 to t9
			if err != nil {
				t.Fatal(err)
			}
			s.opts.DecodeCacheSize, s.cache.createdMax = 2, int64(4*len(e.value)+1)
			setupTasks(t, s, 10) // 2 decoded, 4 created entries, 4 in neither
			if n := len(s.cache.created); n != 4 {
				t.Fatalf("%d created entries, want 4", n)
			}
			updateAll(t, s, 10, 0.25)
			if n, b := len(s.cache.created), s.cache.createdBytes; n != 0 || b != 0 {
				t.Fatalf("%d created entries of %d bytes left after the update, want none", n, b)
			}
			updateAll(t, s, 10, 0.5)
		}, 4, map[string]float64{"t0": 0.5, "t5": 0.5, "t9": 0.5}},
		{"a tree never run gives its created entries' room to the next", func(t *testing.T, s *Store) {
			e, err := encode(mk("a1", "", 1)) // as long as the values of every task below
			if err != nil {
				t.Fatal(err)
			}
			s.opts.DecodeCacheSize, s.cache.createdMax = 0, int64(5*len(e.value))
			tree := func(prefix string) []store.Mutation {
				var ts []*task.Task
				var muts []store.Mutation
				for i := range 5 {
					id := fmt.Sprintf("%s%d", prefix, i)
					ts = append(ts, mk(id, "", i))
					muts = append(muts, store.Mutation{ID: id, Fn: progress(0.5)})
				}
				if err := s.Create(t.Context(), ts); err != nil {
					t.Fatal(err)
				}
				return muts
			}
			tree("a") // never run
			b := tree("b")
			for id := range s.cache.created {
				if id[0] != 'b' {
					t.Fatalf("created entry of %s left, want only the second tree's", id)
				}
			}
			if _, err := s.UpdateMany(t.Context(), b); err != nil {
				t.Fatal(err)
			}
		}, 0, map[string]float64{"b0": 0.5, "b4": 0.5, "a0": 0}},
		{"created, written by a job that leaves the cache alone, then updated", func(t *testing.T, s *Store) {
			s.opts.DecodeCacheSize = 0
			setupTasks(t, s, 1)
			x := mk("t0", "", 0)
			x.Progress = 0.5
			e, err := encode(x)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.submit(t.Context(), func(*badger.Txn) ([]write, error) { return []write{{key: taskKey("t0"), value: e.value}}, nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Update(t.Context(), "t0", func(x *task.Task) error { x.Progress += 0.25; return nil }); err != nil {
				t.Fatal(err)
			}
		}, 1, map[string]float64{"t0": 0.75}},
		{"created, then updated twice", func(t *testing.T, s *Store) {
			setupTasks(t, s, 10)
			for _, p := range []float64{0.25, 0.5} {
				var muts []store.Mutation
				for i := range 10 {
					muts = append(muts, store.Mutation{ID: fmt.Sprintf("t%d", i), Fn: progress(p)})
				}
				if _, err := s.UpdateMany(t.Context(), muts); err != nil {
					t.Fatal(err)
				}
			}
		}, 0, map[string]float64{"t0": 0.5, "t9": 0.5}},
		{"ended, read, then run again", func(t *testing.T, s *Store) {
			if err := s.Create(t.Context(), []*task.Task{mk("r", "", 0), mk("t0", "r", 1), mk("t1", "r", 2)}); err != nil {
				t.Fatal(err)
			}
			status := func(st task.Status, p float64) func(*task.Task) error {
				return func(x *task.Task) error { x.Status, x.Progress = st, p; return nil }
			}
			for _, m := range []store.Mutation{{ID: "t0", Fn: status(task.InProgress, 0.5)}, {ID: "t0", Fn: status(task.Completed, 1)},
				{ID: "t1", Fn: status(task.InProgress, 0.5)}} {
				if _, err := s.UpdateMany(t.Context(), []store.Mutation{m}); err != nil {
					t.Fatal(err)
				}
			}
			// An ended task is not kept decoded (settle): a run does not update it again.
			if _, ok := s.cache.m["t0"]; ok {
				t.Fatal("the completed task is kept decoded")
			}
			if _, ok := s.cache.m["t1"]; !ok {
				t.Fatal("the running task is not kept decoded")
			}
			if got, err := s.Get(t.Context(), "t0"); err != nil || got.Status != task.Completed {
				t.Fatalf("t0 = %v, %v; want completed", got, err)
			}
			// Its reset and its end in one update: the second mutation starts from the first.
			muts := []store.Mutation{{ID: "t0", Fn: status(task.Pending, 0)}, {ID: "t0", Fn: status(task.InProgress, 0.25)},
				{ID: "t0", Fn: status(task.Failed, 0.75)}, {ID: "t1", Fn: status(task.Completed, 1)}}
			out, err := s.UpdateMany(t.Context(), muts)
			if err != nil {
				t.Fatal(err)
			}
			if out[0].Status != task.Pending || out[2].Status != task.Failed || out[2].Progress != 0.75 || out[3].Status != task.Completed {
				t.Fatalf("UpdateMany returned %v, %v, %v", out[0].Status, out[2], out[3].Status)
			}
		}, 1, map[string]float64{"t0": 0.75, "t1": 1}},
		{"a root ended, its run marker cleared, then read", func(t *testing.T, s *Store) {
			r := mk("r", "", 0)
			r.Run = &task.RunMarker{StartedAt: r.CreatedAt}
			if err := s.Create(t.Context(), []*task.Task{r, mk("c", "r", 1)}); err != nil {
				t.Fatal(err)
			}
			start := func(x *task.Task) error { x.Status = task.InProgress; return nil }
			end := func(x *task.Task) error { x.Status, x.Progress = task.Completed, 1; return nil }
			for _, m := range []store.Mutation{{ID: "r", Fn: start}, {ID: "c", Fn: start}, {ID: "c", Fn: end}, {ID: "r", Fn: end}, {ID: "r", Fn: func(x *task.Task) error { x.Run = nil; return nil }}} {
				if _, err := s.UpdateMany(t.Context(), []store.Mutation{m}); err != nil {
					t.Fatal(err)
				}
			}
			// An ended root is kept decoded (settle): the run's end writes it again, and
			// the caller that waited for the run reads it.
			if e, ok := s.cache.m["r"]; !ok || !e.stored || e.t.Run != nil {
				t.Fatalf("the ended root's entry is %+v, %v; want it stored, without its marker", e, ok)
			}
			if _, ok := s.cache.m["c"]; ok {
				t.Fatal("the completed child is kept decoded")
			}
			got, err := s.Get(t.Context(), "r")
			if err != nil || got.Status != task.Completed || got.Run != nil {
				t.Fatalf("r = %+v, %v; want completed without its marker", got, err)
			}
			if got == s.cache.m["r"].t {
				t.Fatal("Get returned the cache's own task")
			}
		}, 0, map[string]float64{"r": 1, "c": 1}},
		{"two mutations of one task in one update", func(t *testing.T, s *Store) {
			setupTasks(t, s, 1)
			muts := []store.Mutation{{ID: "t0", Fn: progress(0.25)}, {ID: "t0", Fn: func(x *task.Task) error { x.Progress += 0.5; return nil }}}
			if _, err := s.UpdateMany(t.Context(), muts); err != nil {
				t.Fatal(err)
			}
		}, 0, map[string]float64{"t0": 0.75}},
		{"deleted and created again", func(t *testing.T, s *Store) {
			setupTasks(t, s, 1)
			if _, err := s.Update(t.Context(), "t0", progress(0.5)); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(t.Context(), []string{"t0"}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Update(t.Context(), "t0", progress(0.75)); err == nil {
				t.Fatal("update of a deleted task succeeded")
			}
			setupTasks(t, s, 1)
			if _, err := s.Update(t.Context(), "t0", func(x *task.Task) error { x.Progress += 0.25; return nil }); err != nil {
				t.Fatal(err)
			}
		}, 1, map[string]float64{"t0": 0.25}},
		{"written too big for one transaction", func(t *testing.T, s *Store) {
			setupTasks(t, s, 3000)
			var muts []store.Mutation
			for i := range 3000 {
				muts = append(muts, store.Mutation{ID: fmt.Sprintf("t%d", i), Fn: progress(0.25)})
			}
			batches := s.c.batches.Load()
			if _, err := s.UpdateMany(t.Context(), muts); err != nil {
				t.Fatal(err)
			}
			if s.c.batches.Load() != batches+1 {
				t.Fatal("the update was not one write too big for a transaction")
			}
			if _, err := s.Update(t.Context(), "t0", func(x *task.Task) error { x.Progress += 0.5; return nil }); err != nil {
				t.Fatal(err)
			}
		}, 1 << 20, map[string]float64{"t0": 0.75, "t2999": 0.25}},
		{"written by jobs that leave the cache alone", func(t *testing.T, s *Store) {
			setupTasks(t, s, 2)
			raw := func(id string, p float64, pad int) []write {
				x := mk(id, "", 0)
				x.Progress = p
				e, err := encode(x)
				if err != nil {
					t.Fatal(err)
				}
				ws := []write{{key: taskKey(id), value: e.value}}
				for i := range pad { // enough to make the job too big for a transaction
					ws = append(ws, write{key: fmt.Appendf(nil, "zpad%d", i), value: make([]byte, 200)})
				}
				return ws
			}
			// t0 in a job of a transaction, t1 in a write too big for one.
			for id, pad := range map[string]int{"t0": 0, "t1": 20000} {
				if _, err := s.Update(t.Context(), id, progress(0.25)); err != nil {
					t.Fatal(err)
				}
				if err := s.submit(t.Context(), func(*badger.Txn) ([]write, error) { return raw(id, 0.5, pad), nil }); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Update(t.Context(), id, func(x *task.Task) error { x.Progress += 0.25; return nil }); err != nil {
					t.Fatal(err)
				}
			}
		}, 2, map[string]float64{"t0": 0.75, "t1": 0.75}},
		{"concurrent updates of one task", func(t *testing.T, s *Store) {
			setupTasks(t, s, 1)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 25 {
						if _, err := s.Update(t.Context(), "t0", func(x *task.Task) error { x.Progress += 1.0 / 256; return nil }); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
		}, 1 << 20, map[string]float64{"t0": 200.0 / 256}}, // read within a transaction that wrote it
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := setup(t, Options{MemTableSize: 1 << 20})
			c.run(t, s)
			if got := s.c.reads.Load(); got > c.reads {
				t.Errorf("the committer read %d tasks back, want at most %d", got, c.reads)
			}
			for id, p := range c.want {
				got, err := s.Get(t.Context(), id)
				if err != nil || got.Progress != p {
					t.Fatalf("%s: progress %v, %v; want %v", id, got.Progress, err, p)
				}
			}
		})
	}
}

// TestCommittedLastWriteDecides: when several jobs of one transaction write a task, its
// last write decides what the committer knows, whatever bytes the cache holds by then
// (those of an earlier write, put by a job that then failed or by a reader of an older
// state). The clock is fixed, so that equal tasks have equal bytes.
func TestCommittedLastWriteDecides(t *testing.T) {
	t.Parallel()
	progress := func(p float64) func(*task.Task) error {
		return func(x *task.Task) error { x.Progress = p; return nil }
	}
	for _, c := range []struct {
		name string
		// round queues the jobs of one transaction, in order, with queue.
		round func(t *testing.T, s *Store, queue func(func() error))
		want  float64 // t0's progress, or -1 for deleted
		// created: t0 is a created entry (decodeCache.putCreated), not updated before
		// the round.
		created bool
	}{
		{"a failed job put an earlier write's bytes", func(t *testing.T, s *Store, queue func(func() error)) {
			queue(func() error { _, err := s.Update(t.Context(), "t0", progress(0.25)); return err })
			queue(func() error { _, err := s.Update(t.Context(), "t0", progress(0.5)); return err })
			queue(func() error { // puts t0 at 0.25 again, then fails on the missing task
				_, err := s.UpdateMany(t.Context(), []store.Mutation{{ID: "t0", Fn: progress(0.25)}, {ID: "missing", Fn: progress(1)}})
				if err == nil {
					return fmt.Errorf("the update of a missing task succeeded")
				}
				return nil
			})
		}, 0.5, false},
		{"a reader put the bytes of a task deleted since", func(t *testing.T, s *Store, queue func(func() error)) {
			old, err := s.Get(t.Context(), "t0")
			if err != nil {
				t.Fatal(err)
			}
			raw, err := marshalTask(old)
			if err != nil {
				t.Fatal(err)
			}
			queue(func() error { _, err := s.Update(t.Context(), "t0", func(*task.Task) error { return nil }); return err })
			queue(func() error { return s.Delete(t.Context(), []string{"t0"}) })
			queue(func() error { // a reader of the state before the delete remembers it
				return s.submit(t.Context(), func(*badger.Txn) ([]write, error) {
					s.cache.put("t0", raw, old)
					return nil, nil
				})
			})
		}, -1, false},
		{"a job wrote a created task, the next updates it", func(t *testing.T, s *Store, queue func(func() error)) {
			x := mk("t0", "", 0)
			x.Progress = 0.5
			e, err := encode(x)
			if err != nil {
				t.Fatal(err)
			}
			queue(func() error {
				return s.submit(t.Context(), func(*badger.Txn) ([]write, error) { return []write{{key: taskKey("t0"), value: e.value}}, nil })
			})
			queue(func() error {
				_, err := s.Update(t.Context(), "t0", func(x *task.Task) error { x.Progress += 0.25; return nil })
				return err
			})
		}, 0.75, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			s := setup(t, Options{Now: func() time.Time { return now }})
			x := mk("t0", "", 0)
			x.UpdatedAt = now
			if c.created {
				s.opts.DecodeCacheSize = 0
			}
			if err := s.Create(t.Context(), []*task.Task{x}); err != nil {
				t.Fatal(err)
			}
			if n := len(s.cache.created); n != map[bool]int{true: 1}[c.created] {
				t.Fatalf("%d created entries", n)
			}
			if !c.created {
				if _, err := s.Update(t.Context(), "t0", progress(0.125)); err != nil {
					t.Fatal(err)
				}
			}
			// Hold the committer, so that the jobs queued meanwhile share one round.
			entered, release := make(chan struct{}), make(chan struct{})
			held := make(chan error, 1)
			go func() {
				held <- s.submit(t.Context(), func(*badger.Txn) ([]write, error) {
					close(entered)
					<-release
					return nil, nil
				})
			}()
			<-entered
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			queue := func(job func() error) {
				n := s.c.queue.Queued()
				wg.Go(func() { errs <- job() })
				for s.c.queue.Queued() == n { // queued before the next
					time.Sleep(time.Millisecond)
				}
			}
			c.round(t, s, queue)
			close(release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := <-held; err != nil {
				t.Fatal(err)
			}
			// What the committer sees now is what is stored.
			var seen float64
			_, err := s.Update(t.Context(), "t0", func(x *task.Task) error { seen = x.Progress; return nil })
			if c.want < 0 {
				if err == nil {
					t.Fatal("an update of the deleted task succeeded")
				}
				if _, err := s.Get(t.Context(), "t0"); err == nil {
					t.Fatal("the deleted task is stored again")
				}
				return
			}
			if err != nil || seen != c.want {
				t.Fatalf("the committer saw progress %v (%v), want %v", seen, err, c.want)
			}
		})
	}
}

// TestEndedRootsKept: the cache keeps the last endedMax roots that ended, whatever else
// it holds: one more forgets the oldest, one ended again counts once, and one put again
// since (a re-run) is no longer forgotten as an ended root.
func TestEndedRootsKept(t *testing.T) {
	t.Parallel()
	c := newDecodeCache(1024, 0)
	entry := func(id string) ([]byte, *task.Task) { return []byte(id), mk(id, "", 0) }
	for i := range 4 {
		raw, x := entry(fmt.Sprintf("running%d", i))
		c.put(x.ID, raw, x)
	}
	rerun := "root0"
	for i := range endedMax + 4 {
		id := fmt.Sprintf("root%d", i)
		raw, x := entry(id)
		c.putEnded(id, raw, x)
		if i == 1 {
			c.putEnded(id, raw, x) // its run marker cleared: one root still
		}
		if i == 2 {
			raw, x := entry(rerun)
			c.put(rerun, raw, x) // run again
		}
	}
	want := map[string]bool{rerun: true}
	for i := range 4 {
		want[fmt.Sprintf("running%d", i)] = true
	}
	for i := 4; i < endedMax+4; i++ {
		want[fmt.Sprintf("root%d", i)] = true
	}
	if len(c.m) != len(want) {
		t.Errorf("%d entries, want %d", len(c.m), len(want))
	}
	for id := range want {
		if _, ok := c.m[id]; !ok {
			t.Errorf("entry of %s forgotten", id)
		}
	}
	if len(c.ended) != endedMax {
		t.Errorf("%d ended roots listed, want %d", len(c.ended), endedMax)
	}
}

// TestEndedRootMakesItsOwnRoom: in a full cache, a root that ends past endedMax takes the
// room of the oldest ended root, not of a task in flight.
func TestEndedRootMakesItsOwnRoom(t *testing.T) {
	t.Parallel()
	for range 50 { // the eviction of a full cache is random
		c := newDecodeCache(endedMax+1, 0)
		c.put("running", []byte("running"), mk("running", "", 0))
		for i := range endedMax + 1 {
			id := fmt.Sprintf("root%d", i)
			c.putEnded(id, []byte(id), mk(id, "", 0))
		}
		if _, ok := c.m["running"]; !ok {
			t.Fatal("an ended root evicted the task in flight")
		}
		if _, ok := c.m["root0"]; ok || len(c.m) != endedMax+1 {
			t.Fatalf("%d entries, root0 kept: want the oldest root gone and the cache full", len(c.m))
		}
	}
}
