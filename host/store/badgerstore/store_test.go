package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/storetest"
	"github.com/apflow-wasm/apflow/host/task"
)

// setup opens a store in a fresh directory (or in memory) and closes it at the end.
func setup(t testing.TB, opts Options) *Store {
	t.Helper()
	if !opts.InMemory && opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	return storetest.Open(t, func() (*Store, error) { return Open(opts) })
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"OnDisk", Options{}},
		{"InMemory", Options{InMemory: true}},
		{"NoDecodeCache", Options{DecodeCacheSize: -1}},
		{"TinyDecodeCache", Options{InMemory: true, DecodeCacheSize: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) store.Store { return setup(t, c.opts) })
		})
	}
}

// onDiskAndInMemory runs a conformance suite on a store on disk and on one in memory.
func onDiskAndInMemory(t *testing.T, suite func(t *testing.T, newStore func(*testing.T) *Store)) {
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"OnDisk", Options{}},
		{"InMemory", Options{InMemory: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			suite(t, func(t *testing.T) *Store { return setup(t, c.opts) })
		})
	}
}

func TestKeysConformance(t *testing.T) {
	t.Parallel()
	onDiskAndInMemory(t, func(t *testing.T, newStore func(*testing.T) *Store) { storetest.RunKeys(t, newStore) })
}

func TestScanTreeConformance(t *testing.T) {
	t.Parallel()
	onDiskAndInMemory(t, func(t *testing.T, newStore func(*testing.T) *Store) { storetest.RunScanTree(t, newStore) })
}

func TestBatchConformance(t *testing.T) {
	t.Parallel()
	onDiskAndInMemory(t, func(t *testing.T, newStore func(*testing.T) *Store) { storetest.RunBatch(t, newStore) })
}

func TestSchedulesConformance(t *testing.T) {
	t.Parallel()
	onDiskAndInMemory(t, func(t *testing.T, newStore func(*testing.T) *Store) { storetest.RunSchedules(t, newStore) })
}

func mk(id, parent string, seq int) *task.Task {
	return &task.Task{
		ID: id, ParentID: parent, TaskTreeID: "tree", Name: id, Status: task.Pending,
		Priority: task.DefaultPriority, Seq: seq,
		CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 123456789, time.UTC),
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Create(ctx, []*task.Task{mk("r", "", 0), mk("a", "r", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "a", func(t *task.Task) error { return t.Start(time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = setup(t, Options{Dir: dir})
	got, err := s.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != task.InProgress || got.Attempts != 1 {
		t.Fatalf("after reopen: %s, attempts %d", got.Status, got.Attempts)
	}
	n, err := s.Count(ctx, store.Filter{Status: task.InProgress})
	if err != nil || n != 1 {
		t.Fatalf("Count(in_progress) after reopen = %d, %v", n, err)
	}
	kids, err := s.Children(ctx, "r")
	if err != nil || len(kids) != 1 {
		t.Fatalf("Children after reopen = %d, %v", len(kids), err)
	}
}

// TestDurableWithoutClose kills a child process right after its writes returned and
// checks that they are in the store: a nil error means durable.
func TestDurableWithoutClose(t *testing.T) {
	if dir := os.Getenv("BADGERSTORE_CRASH_DIR"); dir != "" {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(3)
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Create(context.Background(), []*task.Task{mk(fmt.Sprintf("k%d", i), "", i)}); err != nil {
					fmt.Println("create:", err)
					os.Exit(3)
				}
			}()
		}
		wg.Wait()
		fmt.Println("written")
		os.Exit(0) // no Close: nothing is flushed on the way out
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurableWithoutClose$")
	cmd.Env = append(os.Environ(), "BADGERSTORE_CRASH_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "written") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := setup(t, Options{Dir: dir})
	n, err := s.Count(t.Context(), store.Filter{})
	if err != nil || n != 20 {
		t.Fatalf("after a crash: %d tasks, %v; want 20", n, err)
	}
}

func TestLockedDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	setup(t, Options{Dir: dir})
	_, err := Open(Options{Dir: dir})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if want := fmt.Sprintf("data dir %s is in use by another apflow process", dir); err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestOpenOptionErrors(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{}, {InMemory: true, Dir: t.TempDir()}} {
		if s, err := Open(o); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

// TestIndexConsistency runs many concurrent status changes and then checks every index
// entry against the tasks, and the tasks against the entries they must have.
func TestIndexConsistency(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	ctx := t.Context()
	const n = 200
	tasks := []*task.Task{mk("root", "", 0)}
	for i := 1; i < n; i++ {
		x := mk(fmt.Sprintf("t%03d", i), "root", i)
		x.UserID = []string{"", "u1", "u2"}[i%3]
		if i > 1 {
			x.Dependencies = []task.Dependency{{ID: fmt.Sprintf("t%03d", i-1), Required: true}}
		}
		tasks = append(tasks, x)
	}
	if err := s.Create(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cycle := []func(*task.Task) error{
		func(t *task.Task) error { return t.Start(now) },
		func(t *task.Task) error { return t.Fail("x", nil, now) },
		func(t *task.Task) error { return t.Reset(now) },
		func(t *task.Task) error { return t.Start(now) },
		func(t *task.Task) error { t.Priority = (t.Priority + 1) % 4; return nil },
		func(t *task.Task) error { return t.Complete(nil, now) },
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1 + w; i < n; i += 8 {
				for _, fn := range cycle[:1+i%len(cycle)] {
					if _, err := s.Update(ctx, fmt.Sprintf("t%03d", i), fn); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	checkIndexes(t, s)
	if err := s.Delete(ctx, []string{"t199", "t198"}); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, s)
}

// checkIndexes compares the stored index entries with those derived from the tasks.
func checkIndexes(t *testing.T, s *Store) {
	t.Helper()
	want := map[string]string{}
	got := map[string]string{}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := string(it.Item().KeyCopy(nil))
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if k[0] == prefixTask {
				tk, err := decode(k, v)
				if err != nil {
					return err
				}
				for _, e := range indexEntries(tk) {
					want[string(e.key)] = string(e.value)
				}
				continue
			}
			if k[0] == prefixIdemKey || k[0] == prefixMeta { // not index entries
				continue
			}
			got[k] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("index entry %q missing or stale", k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("index entry %q has no task", k)
		}
	}
}

func TestDeleteMissing(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	if err := s.Create(t.Context(), []*task.Task{mk("x", "", 0)}); err != nil {
		t.Fatal(err)
	}
	err := s.Delete(t.Context(), []string{"x", "ghost"})
	if apferr.CodeOf(err) != apferr.TaskNotFound {
		t.Fatalf("Delete with a missing id: %v", err)
	}
	if _, err := s.Get(t.Context(), "x"); err != nil {
		t.Fatalf("x deleted by a refused Delete: %v", err)
	}
}

func TestCreateValidates(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	bad := mk("bad\xff", "", 0)
	noID := mk("", "", 0)
	badStatus := mk("s", "", 0)
	badStatus.Status = "done"
	for _, ts := range [][]*task.Task{{bad}, {noID}, {badStatus}, {nil}} {
		if err := s.Create(t.Context(), ts); apferr.CodeOf(err) != apferr.InvalidParams {
			t.Errorf("Create(%v): %v, want InvalidParams", ts, err)
		}
	}
}

// TestIdsWithSeparators checks that ids containing the key escape byte neither collide
// nor leak into each other's index scans (the separator, NUL, is refused in key fields).
func TestIdsWithSeparators(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	ctx := t.Context()
	p1, p2 := mk("p", "", 0), mk("p\x01", "", 1)
	c1, c2 := mk("c", "p", 2), mk("c\x01\x01", "p\x01", 3)
	if err := s.Create(ctx, []*task.Task{p1, p2, c1, c2}); err != nil {
		t.Fatal(err)
	}
	for parent, want := range map[string]string{"p": "c", "p\x01": "c\x01\x01"} {
		kids, err := s.Children(ctx, parent)
		if err != nil || len(kids) != 1 || kids[0].ID != want {
			t.Fatalf("Children(%q) = %v, %v", parent, kids, err)
		}
	}
}

// TestGroupCommit checks that concurrent updates share commits.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{})
	ctx := t.Context()
	const workers, per = 32, 10
	var ts []*task.Task
	for i := range workers {
		ts = append(ts, mk(fmt.Sprintf("g%d", i), "", i))
	}
	if err := s.Create(ctx, ts); err != nil {
		t.Fatal(err)
	}
	b0, j0 := s.c.batches.Load(), s.c.jobs.Load()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if _, err := s.Update(ctx, fmt.Sprintf("g%d", i), func(t *task.Task) error { t.RunCount++; return nil }); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	batches, jobs := s.c.batches.Load()-b0, s.c.jobs.Load()-j0
	if jobs != workers*per {
		t.Fatalf("%d jobs committed, want %d", jobs, workers*per)
	}
	if batches >= jobs {
		t.Fatalf("%d commits for %d concurrent updates: no commit was shared", batches, jobs)
	}
	t.Logf("%d updates in %d commits", jobs, batches)
}

// TestBatchSplitsAtTxnLimit fills one batch past badger's transaction limit: the batch
// is committed in several transactions, and a job too big alone fails by itself.
func TestBatchSplitsAtTxnLimit(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20}) // ~1,600 entries per txn
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ts []*task.Task
			for i := range 100 {
				x := mk(fmt.Sprintf("b%d-%d", g, i), "", i)
				x.UserID = "u"
				ts = append(ts, x)
			}
			errs[g] = s.Create(ctx, ts)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var huge []*task.Task
	for i := range 2000 {
		huge = append(huge, mk(fmt.Sprintf("h%d", i), "", i))
	}
	// Over the limit of one transaction: stored in chunks, atomically (create_test.go).
	if err := s.Create(ctx, huge); err != nil {
		t.Fatalf("oversized Create: %v", err)
	}
	n, err := s.Count(ctx, store.Filter{})
	if err != nil || n != 2800 {
		t.Fatalf("Count = %d, %v; want 2800", n, err)
	}
}

func TestAbandonedJob(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true})
	if err := s.Create(t.Context(), []*task.Task{mk("x", "", 0)}); err != nil {
		t.Fatal(err)
	}
	// Block the committer inside a job so the next one stays queued.
	entered, release := make(chan struct{}), make(chan struct{})
	go func() {
		_, _ = s.Update(context.Background(), "x", func(*task.Task) error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, "x", func(t *task.Task) error { t.Name = "abandoned"; return nil })
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // let it queue; the outcome does not depend on it
	cancel()
	err := <-errc
	close(release)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update: %v, want context.Canceled", err)
	}
	got, err := s.Get(t.Context(), "x")
	if err != nil || got.Name == "abandoned" {
		t.Fatalf("abandoned job was written: %v, %v", got, err)
	}
}

func TestCollectGarbage(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{Dir: filepath.Join(t.TempDir(), "data"), ValueThreshold: 64, GCInterval: -1}) // one collector: this test
	ctx := t.Context()
	if err := s.Create(ctx, []*task.Task{mk("x", "", 0)}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := s.Update(ctx, "x", func(t *task.Task) error { t.RunCount = i; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.collectGarbage(nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "x")
	if err != nil || got.RunCount != 49 {
		t.Fatalf("after GC: %v, %v", got, err)
	}
}

func TestValueTooBig(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{InMemory: true, MemTableSize: 1 << 20})
	big := mk("big", "", 0)
	big.Inputs = map[string]any{"blob": strings.Repeat("x", 200_000)}
	err := s.Create(t.Context(), []*task.Task{big})
	if !errors.Is(err, errTooBig) || !strings.Contains(err.Error(), "task big is ") || !strings.Contains(err.Error(), "inputs") {
		t.Fatalf("Create of a task over the value limit: %v, want errTooBig naming the task and its inputs", err)
	}
	if err := s.Create(t.Context(), []*task.Task{mk("small", "", 0)}); err != nil {
		t.Fatal(err)
	}
}

// TestCloseLeavesLevelZero checks that closing does not compact Badger's level 0: the
// memtable's last table stays there for the next process to compact in the background.
// Compacting it at close rewrote level 1 in every process that had written, so each
// apflow run was slower the more the data dir held (docs/performance.md, tenth pass).
func TestCloseLeavesLevelZero(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(t.Context(), []*task.Task{mk("r", "", 0), mk("a", "r", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = setup(t, Options{Dir: dir})
	levels := tablesPerLevel(s)
	if levels[0] == 0 {
		t.Fatalf("tables per level after a close: %v, want the flushed memtable's table in level 0", levels)
	}
}

// TestLevelZeroHoldsFlushes checks that Badger keeps several memtables' tables in level
// 0 before compacting them: each of those tables spans nearly the whole key space, so a
// compaction of level 0 rewrites the whole base level, and doing it for every second
// flush made a million-task run 30% slower (docs/performance.md, eleventh pass).
func TestLevelZeroHoldsFlushes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, NoSync: true, MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for tree := range 16 {
		root := fmt.Sprintf("r%d", tree)
		tasks := []*task.Task{mk(root, "", 0)}
		for i := 1; i < 1000; i++ {
			tasks = append(tasks, mk(fmt.Sprintf("%s-%d", root, i), root, i))
		}
		for _, tk := range tasks {
			tk.TaskTreeID = root
		}
		if err := s.Create(t.Context(), tasks); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // Badger's compactors look every 50 ms
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = setup(t, Options{Dir: dir})
	levels := tablesPerLevel(s)
	if levels[0] < 3 || len(levels) != 1 {
		t.Fatalf("tables per level after about eight memtables of writes: %v, want them all in level 0", levels)
	}
}

// TestCloseCompactsCrowdedLevelZero checks that processes too short-lived for Badger's
// compactors (which begin up to a second after Open) do not pile tables up in level 0:
// each Close adds one, and Close compacts level 0 once it holds levelZeroStall of them
// (maintenance.go). Before, 400 one-task runs left 407 tables, each opened by every later
// process.
func TestCloseCompactsCrowdedLevelZero(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runs := levelZeroStall + 16
	for run := range runs {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if n := tablesPerLevel(s)[0]; n > levelZeroStall {
			t.Fatalf("before run %d, level 0 holds %d tables, want at most %d", run, n, levelZeroStall)
		}
		if err := s.Create(t.Context(), []*task.Task{mk(fmt.Sprintf("r%d", run), "", 0)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s := setup(t, Options{Dir: dir})
	for run := range runs {
		if _, err := s.Get(t.Context(), fmt.Sprintf("r%d", run)); err != nil {
			t.Fatalf("task of run %d after the compactions: %v", run, err)
		}
	}
}

// closeUntilCompaction writes a task with one short-lived store after another on
// opts.Dir (opts.compactLevelZeroAt set low) until a Close is about to compact level 0,
// and runs between then, as another process would.
func closeUntilCompaction(t *testing.T, opts Options, between func()) {
	t.Helper()
	done := false
	for run := 0; !done; run++ {
		if run > opts.compactLevelZeroAt {
			t.Fatal("Close never compacted level 0")
		}
		s, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Create(t.Context(), []*task.Task{mk(fmt.Sprintf("r%d", run), "", 0)}); err != nil {
			t.Fatal(err)
		}
		s.testBeforeMaintain = func() { done = true; between() }
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompactionRecoversAnotherProcess checks that the compaction at Close opens the
// store as any process would: another process that took the directory between Close and
// the compaction, wrote with larger memtables and crashed left write-ahead logs that
// only the memtable size it recorded can replay, and a journal.
func TestCompactionRecoversAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := Options{Dir: dir, MemTableSize: 1 << 20, ValueLogFileSize: 1 << 20, compactLevelZeroAt: 3}
	closeUntilCompaction(t, small, func() {
		large := small
		large.MemTableSize = 4 << 20
		other, err := Open(large)
		if err != nil {
			t.Fatal(err)
		}
		// More than the small memtables hold, in one commit.
		if err := other.Create(t.Context(), bigTree("other", 3000)); err != nil {
			t.Fatal(err)
		}
		image := t.TempDir()
		copyDir(t, dir, image) // its files as its crash leaves them
		_ = other.Close()
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		copyDir(t, image, dir)
	})
	s := setup(t, small)
	if n, err := s.Count(t.Context(), store.Filter{}); err != nil || n < 3000 {
		t.Fatalf("%d tasks after the compaction (%v), want the other process's 3,000 too", n, err)
	}
	if _, err := s.Get(t.Context(), "other2999"); err != nil {
		t.Fatalf("the other process's task: %v", err)
	}
	if n := tablesPerLevel(s)[0]; n >= 3 {
		t.Errorf("level 0 holds %d tables after the compaction", n)
	}
}

// TestCompactionLeavesATakenDirectory checks that the compaction at Close gives way,
// without a warning, to a process that took the directory in between: that one's
// compactions merge level 0 instead.
func TestCompactionLeavesATakenDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs bytes.Buffer
	opts := Options{Dir: dir, Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn}), compactLevelZeroAt: 3}
	closeUntilCompaction(t, opts, func() {
		other, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = other.Close() })
	})
	if logs.Len() > 0 {
		t.Errorf("Close logged: %s", logs.String())
	}
}

// TestCloseCollectsDeadValueLogs checks that short-lived processes whose chunked
// creates write their markers to the value log do not pile value-log files up: Close's
// maintenance collects those whose values are dead (maintenance.go), whether level 0 or
// the files' count calls for it. A file that holds a live value (a task's large inputs)
// is collected too, its value moved, while most of it is dead. Before, every such process
// left a file behind for good.
func TestCloseCollectsDeadValueLogs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts Options
	}{
		{"LevelZeroCrowded", Options{compactLevelZeroAt: 3, collectValueLogsAt: 1 << 20}},
		{"ValueLogsGrown", Options{compactLevelZeroAt: 1 << 20, collectValueLogsAt: 4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := c.opts
			opts.Dir, opts.MemTableSize, opts.GCInterval = t.TempDir(), 1<<20, -1
			const runs, padded, tasks = 18, 6, 600
			var counts []int // of value-log files after each Close
			for run := range runs {
				s, err := Open(opts)
				if err != nil {
					t.Fatal(err)
				}
				tree := bigTree(fmt.Sprintf("p%d-", run), tasks) // in chunks, each with its marker
				if run%padded == 0 {
					tree[0].Inputs = map[string]any{"pad": strings.Repeat("k", 600)} // live in the value log
				}
				if err := s.Create(t.Context(), tree); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				logs, _ := valueLogs(opts.Dir)
				counts = append(counts, logs.count)
			}
			if n := counts[len(counts)-1]; n > runs/2 {
				t.Fatalf("%d value-log files after %d processes (after each: %v), want their dead ones collected", n, runs, counts)
			}
			s := setup(t, opts)
			for run := range runs {
				x, err := s.Get(t.Context(), fmt.Sprintf("p%d-0", run))
				if err != nil {
					t.Fatalf("root of run %d: %v", run, err)
				}
				if pad, _ := x.Inputs["pad"].(string); run%padded == 0 && len(pad) != 600 {
					t.Fatalf("root of run %d has inputs %v after the collections", run, x.Inputs)
				}
			}
			if n, err := s.Count(t.Context(), store.Filter{}); err != nil || n != runs*tasks {
				t.Fatalf("%d tasks (%v), want %d", n, err, runs*tasks)
			}
		})
	}
}

// TestMaintenanceConsolidatesLiveValueLogs checks that short-lived processes whose
// large values stay live (small tasks that complete with a large result) do not pile
// value-log files up either: no collection frees such a file, so a maintenance that
// finds many rewrites the live values into its own file, and a later one frees the
// files they left (maintenance.go). Before, every such process left a file for good.
func TestMaintenanceConsolidatesLiveValueLogs(t *testing.T) {
	t.Parallel()
	opts := Options{Dir: t.TempDir(), MemTableSize: 1 << 20, GCInterval: -1, compactLevelZeroAt: 3, collectValueLogsAt: 4}
	const runs, tasks = 30, 40
	result := func(run, i int) string { return fmt.Sprintf("%d-%d-%s", run, i, strings.Repeat("r", 600)) }
	var counts []int // of value-log files after each Close
	for run := range runs {
		s, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tasks {
			x := mk(fmt.Sprintf("r%d-%d", run, i), "", i)
			if err := s.Create(t.Context(), []*task.Task{x}); err != nil {
				t.Fatal(err)
			}
			for _, st := range []task.Status{task.InProgress, task.Completed} {
				if _, err := s.Update(t.Context(), x.ID, func(x *task.Task) error {
					x.Status, x.Result = st, result(run, i)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		logs, _ := valueLogs(opts.Dir)
		counts = append(counts, logs.count)
	}
	first := -1 // the first process after which files a rewrite emptied were freed
	for i := 1; i < len(counts); i++ {
		if counts[i] <= counts[i-1]-4 {
			first = i
			break
		}
	}
	if first < 0 || slices.Max(counts[first:]) > runs/2 {
		t.Fatalf("value-log files after each of %d processes: %v, want those of the rewritten values freed", runs, counts)
	}
	s := setup(t, opts)
	for run := range runs {
		for i := range tasks {
			x, err := s.Get(t.Context(), fmt.Sprintf("r%d-%d", run, i))
			if err != nil {
				t.Fatal(err)
			}
			if x.Status != task.Completed || x.Result != result(run, i) {
				t.Fatalf("task %s: %s, result %.20v", x.ID, x.Status, x.Result)
			}
		}
	}
}

// TestMaintenanceDeletesOnlyWhatItSynced checks that the store Close's maintenance
// opens has Badger sync its writes and compact level 0 at close, and that the files
// its collection frees stay on disk until the journal's checkpoint has synced the
// moves, checking each sync (Badger only logs a failed one): none is deleted between
// the collection and the checkpoint (maintenance.go).
func TestMaintenanceDeletesOnlyWhatItSynced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{Dir: dir, MemTableSize: 1 << 20, GCInterval: -1, compactLevelZeroAt: 3}
	freed := false
	opts.testMaintaining = func(m *Store) {
		if o := m.db.Opts(); !o.SyncWrites || !o.CompactL0OnClose {
			t.Errorf("maintenance opened Badger with SyncWrites %v, CompactL0OnClose %v", o.SyncWrites, o.CompactL0OnClose)
		}
		before, _ := valueLogs(dir)
		m.testAfterCollect = func() {
			if during, _ := valueLogs(dir); during.count < before.count {
				t.Errorf("%d value-log files after the collection, before its checkpoint; %d before it", during.count, before.count)
			}
		}
	}
	for run := 0; !freed; run++ {
		if run == 16 {
			t.Fatal("no maintenance freed a value-log file")
		}
		s, err := Open(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Create(t.Context(), bigTree(fmt.Sprintf("p%d-", run), 600)); err != nil {
			t.Fatal(err)
		}
		maintained := false
		s.testBeforeMaintain = func() { maintained = true }
		before, _ := valueLogs(dir)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		after, _ := valueLogs(dir)
		freed = maintained && after.count < before.count
	}
}

// TestServerCollectionSparesTheMaintenance checks that Close leaves the value log to a
// process that collected it itself (a server, every GCInterval): only one that never
// did maintains the store for it (maintenance.go).
func TestServerCollectionSparesTheMaintenance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		gcInterval time.Duration
		want       bool
	}{
		{"NeverCollected", -1, true},
		{"Collected", time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(Options{Dir: t.TempDir(), GCInterval: c.gcInterval, collectValueLogsAt: 1, compactLevelZeroAt: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			x := mk("big", "", 0)
			x.Inputs = map[string]any{"pad": strings.Repeat("k", 600)} // keeps the value-log file
			if err := s.Create(t.Context(), []*task.Task{x}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // many a tick of the collection's, when it runs
			maintained := false
			s.testBeforeMaintain = func() { maintained = true }
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if maintained != c.want {
				t.Fatalf("Close maintained the store: %v, want %v", maintained, c.want)
			}
		})
	}
}

// TestRewriteSkipsConsolidatedValues checks that a consolidation rewrites only the
// value-log values written since the last one (versions above what it recorded), not
// those the last one packed already, and leaves them as they were.
func TestRewriteSkipsConsolidatedValues(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{Dir: t.TempDir(), GCInterval: -1})
	big := func(id string) *task.Task {
		x := mk(id, "", 0)
		x.Inputs = map[string]any{"pad": strings.Repeat(id, 600)} // in the value log
		return x
	}
	if err := s.Create(t.Context(), []*task.Task{big("a"), mk("small", "", 1)}); err != nil {
		t.Fatal(err)
	}
	through := s.db.MaxVersion()
	if err := s.Create(t.Context(), []*task.Task{big("b")}); err != nil {
		t.Fatal(err)
	}
	latest := s.db.MaxVersion()
	for _, c := range []struct {
		after uint64
		want  int
	}{{latest, 0}, {through, 1}, {0, 2}} { // each rewrite gives what it rewrote a new version

		n, _, err := s.rewriteValueLogValues(t.Context(), c.after)
		if err != nil || n != c.want {
			t.Fatalf("rewrite after version %d: %d values (%v), want %d", c.after, n, err, c.want)
		}
	}
	for _, id := range []string{"a", "b"} {
		x, err := s.Get(t.Context(), id)
		if err != nil || x.Inputs["pad"] != strings.Repeat(id, 600) {
			t.Fatalf("task %s after the rewrites: %v (%v)", id, x, err)
		}
	}
}

// TestLastConsolidationDistrustsARecordOfAnotherStore checks that a consolidation
// record that is damaged, or ahead of the store's versions or value-log files (files
// removed, a store restored from elsewhere), is taken as absent: the next consolidation
// then considers every file, instead of none until the numbers catch up.
func TestLastConsolidationDistrustsARecordOfAnotherStore(t *testing.T) {
	t.Parallel()
	s := setup(t, Options{Dir: t.TempDir(), GCInterval: -1})
	if err := s.Create(t.Context(), []*task.Task{mk("a", "", 0)}); err != nil {
		t.Fatal(err)
	}
	version := s.db.MaxVersion()
	for _, c := range []struct {
		name   string
		record []byte
		want   consolidation
	}{
		{"Sound", consolidation{through: version, file: 1}.encode(), consolidation{through: version, file: 1}},
		{"Damaged", []byte{1, 2, 3}, consolidation{}},
		{"AheadOfVersions", consolidation{through: version + 1000, file: 1}.encode(), consolidation{}},
		{"AheadOfFiles", consolidation{through: version, file: 9}.encode(), consolidation{}},
	} {
		if err := s.submit(t.Context(), func(*badger.Txn) ([]write, error) {
			return []write{{key: consolidatedKey, value: c.record}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.lastConsolidation(1); err != nil || got != c.want {
			t.Errorf("%s: %+v (%v), want %+v", c.name, got, err, c.want)
		}
	}
}

// TestConsolidationPays checks when a maintenance rewrites the value log's live values:
// when the files are many enough that they cost the processes to come more than a scan
// of the store's keys and a rewrite of the files' bytes.
func TestConsolidationPays(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		files int
		keys  uint64
		disk  int64
		want  bool
	}{
		{31, 0, 0, false},
		{32, 1000, 0, true},
		{32, 204_800, 0, true},
		{32, 205_000, 0, false},
		{32, 0, 1024 << 12, true},
		{32, 0, 1025 << 12, false},
		{64, 400_000, 8 << 20, true}, // 2,000 + 2,048 ≤ 4,096
		{64, 400_000, 9 << 20, false},
		{256, 10_000_000, 0, true},
	} {
		if got := consolidationPays(c.files, 32, c.keys, c.disk); got != c.want {
			t.Errorf("consolidationPays(%d, 32, %d, %d) = %v, want %v", c.files, c.keys, c.disk, got, c.want)
		}
	}
}

// TestValueLogsCrossed checks when the value-log files of a process call for Close's
// maintenance: on reaching the threshold or a power-of-two multiple of it, so that files
// it cannot collect (their values live) are tried again only once they have doubled.
func TestValueLogsCrossed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		opened, closed int
		want           bool
	}{
		{0, 31, false}, {31, 32, true}, {32, 33, false}, {32, 63, false}, {63, 64, true},
		{40, 130, true}, {64, 64, false}, {5, 5, false}, {100, 90, false},
	} {
		if got := valueLogsCrossed(c.opened, c.closed, 32); got != c.want {
			t.Errorf("valueLogsCrossed(%d, %d, 32) = %v, want %v", c.opened, c.closed, got, c.want)
		}
	}
}

// TestTablesStaySmallAtEveryLevel checks that Badger is told to build tables of
// BaseTableSize at every level: its default doubles them a level down, and a
// compaction's builders, which hold whole tables, then grew with the store, and so did a
// long-running server's memory (options.go). (A store large enough to have levels above
// the last takes too long to fill in a test.)
func TestTablesStaySmallAtEveryLevel(t *testing.T) {
	t.Parallel()
	bo := Options{Dir: t.TempDir()}.withDefaults().badgerOptions()
	if bo.TableSizeMultiplier != 1 || bo.BaseTableSize != 1<<20 {
		t.Fatalf("TableSizeMultiplier %d, BaseTableSize %d: want tables of 1 MiB at every level",
			bo.TableSizeMultiplier, bo.BaseTableSize)
	}
}

// tablesPerLevel counts the store's Badger tables in each level.
func tablesPerLevel(s *Store) map[int]int {
	levels := map[int]int{}
	for _, ti := range s.db.Tables() {
		levels[ti.Level]++
	}
	return levels
}
