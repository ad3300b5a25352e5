package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// TreeScanner is a store that hands a tree's tasks over one at a time (memstore,
// badgerstore): host/engine loads a run's tree with it instead of Tree. ScanTree calls
// fn with every task of the tree in Tree's order, each a copy the caller owns, outside
// any transaction, and returns fn's first error. It need not be one snapshot: a task
// changed or deleted during the scan may be handed over as it was or as it is (and a
// deleted one left out), never as an error.
type TreeScanner interface {
	store.Store
	store.TreeScanner
}

// RunScanTree runs the conformance suite of ScanTree. newStore must return a new,
// empty store for each call; RunScanTree closes it when the subtest ends.
func RunScanTree[S TreeScanner](t *testing.T, newStore func(t *testing.T) S) {
	runSuite(t, func(t *testing.T) TreeScanner { return newStore(t) }, scanCases)
}

var scanCases = []storeCase[TreeScanner]{
	{"AsTree", testScanAsTree},
	{"Copies", testScanCopies},
	{"StopsAtError", testScanStops},
	{"UsesTheStore", testScanUsesStore},
	{"DeleteDuringTheScan", testScanDelete},
}

// scanTree creates tree r of n tasks: the root, then children whose seq ties (the id
// decides) in an order unlike their ids'.
func scanTree(t *testing.T, s store.Store, n int) {
	t.Helper()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := []*task.Task{{ID: "r", TaskTreeID: "r", Name: "r", Status: task.Pending, Priority: task.DefaultPriority, CreatedAt: now}}
	for i := 1; i < n; i++ {
		id := fmt.Sprintf("c-%05d", n-i)
		ts = append(ts, &task.Task{ID: id, ParentID: "r", TaskTreeID: "r", Name: id, Status: task.Pending,
			Priority: task.DefaultPriority, Seq: 1 + i/2, CreatedAt: now})
	}
	if err := s.Create(t.Context(), ts); err != nil {
		t.Fatal(err)
	}
}

func scanAll(t *testing.T, s TreeScanner) []*task.Task {
	t.Helper()
	var got []*task.Task
	if err := s.ScanTree(t.Context(), "r", func(tk *task.Task) error {
		got = append(got, tk)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// testScanAsTree: the tasks and order of Tree, over more tasks than a read chunk.
func testScanAsTree(t *testing.T, s TreeScanner) {
	scanTree(t, s, 700)
	want, err := s.Tree(t.Context(), "r")
	if err != nil {
		t.Fatal(err)
	}
	got := scanAll(t, s)
	if len(got) != len(want) {
		t.Fatalf("scanned %d tasks, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Name != want[i].Name || got[i].Seq != want[i].Seq {
			t.Fatalf("task %d = %s (seq %d), want %s (seq %d)", i, got[i].ID, got[i].Seq, want[i].ID, want[i].Seq)
		}
	}
	if err := s.ScanTree(t.Context(), "missing", func(*task.Task) error { return errors.New("called") }); err != nil {
		t.Fatalf("ScanTree of a missing tree = %v, want no call and nil", err)
	}
}

// testScanCopies: a scanned task is the caller's.
func testScanCopies(t *testing.T, s TreeScanner) {
	scanTree(t, s, 3)
	got := scanAll(t, s)
	got[0].Name = "changed"
	if r, err := s.Get(t.Context(), "r"); err != nil || r.Name != "r" {
		t.Fatalf("Get after changing a scanned task = %+v, %v: ScanTree handed out the stored task", r, err)
	}
}

// testScanStops: fn's error stops the scan and is returned.
func testScanStops(t *testing.T, s TreeScanner) {
	scanTree(t, s, 700)
	stop := errors.New("stop")
	n := 0
	err := s.ScanTree(t.Context(), "r", func(*task.Task) error {
		if n++; n == 300 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 300 {
		t.Fatalf("ScanTree = %v after %d calls, want stop after 300", err, n)
	}
}

// testScanUsesStore: fn may read and write the store while the scan goes on.
func testScanUsesStore(t *testing.T, s TreeScanner) {
	scanTree(t, s, 600)
	n := 0
	err := s.ScanTree(t.Context(), "r", func(tk *task.Task) error {
		n++
		_, err := s.Update(t.Context(), tk.ID, func(st *task.Task) error {
			st.Name = "seen"
			return nil
		})
		return err
	})
	if err != nil || n != 600 {
		t.Fatalf("ScanTree = %v after %d calls", err, n)
	}
	if c, err := s.Get(t.Context(), "c-00001"); err != nil || c.Name != "seen" {
		t.Fatalf("c-00001 = %+v, %v", c, err)
	}
}

// testScanDelete: a task deleted while the scan goes on (after the first chunk) is no
// error; it is handed over or left out.
func testScanDelete(t *testing.T, s TreeScanner) {
	scanTree(t, s, 600)
	last := fmt.Sprintf("c-%05d", 1) // the last child in Tree's order
	n, sawLast := 0, false
	err := s.ScanTree(t.Context(), "r", func(tk *task.Task) error {
		if n++; n == 1 {
			if err := s.Delete(t.Context(), []string{last}); err != nil {
				return err
			}
		}
		sawLast = sawLast || tk.ID == last
		return nil
	})
	if err != nil {
		t.Fatalf("ScanTree with a task deleted meanwhile = %v", err)
	}
	if n != 599 && !(n == 600 && sawLast) {
		t.Fatalf("ScanTree handed over %d tasks (the deleted one: %v), want 599, or 600 with it", n, sawLast)
	}
}
