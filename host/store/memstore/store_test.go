package memstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/storetest"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) store.Store { return New() })
}

func TestKeysConformance(t *testing.T) {
	t.Parallel()
	storetest.RunKeys(t, func(*testing.T) *Store { return New() })
}

func TestSchedulesConformance(t *testing.T) {
	t.Parallel()
	storetest.RunSchedules(t, func(*testing.T) *Store { return New() })
}

// setup returns a new store holding the pending roots ids, closed at the end of the test.
func setup(t *testing.T, ids ...string) *Store {
	t.Helper()
	s := New()
	t.Cleanup(func() { _ = s.Close() })
	ts := make([]*task.Task, len(ids))
	for i, id := range ids {
		ts[i] = &task.Task{ID: id, TaskTreeID: id, Name: id, Status: task.Pending, Seq: i,
			CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	if err := s.Create(t.Context(), ts); err != nil {
		t.Fatal(err)
	}
	return s
}

// blockUpdate starts an Update of id whose function waits for release; it returns once
// the function runs, with the channel the Update's error arrives on.
func blockUpdate(s *Store, id string, release <-chan struct{}) <-chan error {
	entered, errc := make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := s.Update(context.Background(), id, func(t *task.Task) error {
			t.Name = "written"
			close(entered)
			<-release
			return nil
		})
		errc <- err
	}()
	<-entered
	return errc
}

// TestReadsDuringAWrite: while an update function runs, reads are answered (from the
// state before the write, including reads made by the function itself) and see the
// write whole once it returns.
func TestReadsDuringAWrite(t *testing.T) {
	t.Parallel()
	s := setup(t, "x")
	ctx := t.Context()
	release := make(chan struct{})
	var inside *task.Task
	errc := make(chan error, 1)
	entered := make(chan struct{})
	go func() {
		_, err := s.Update(context.Background(), "x", func(t *task.Task) error {
			if err := t.Start(time.Now()); err != nil {
				return err
			}
			var err error
			inside, err = s.Get(context.Background(), "x")
			close(entered)
			<-release
			return err
		})
		errc <- err
	}()
	<-entered
	if inside.Status != task.Pending {
		t.Fatalf("Get from the update function = %s, want the state before the write", inside.Status)
	}
	got, err := s.Get(ctx, "x")
	if err != nil || got.Status != task.Pending {
		t.Fatalf("Get during the write = %v, %v; want pending", got, err)
	}
	if n, err := s.Count(ctx, store.Filter{Status: task.InProgress}); err != nil || n != 0 {
		t.Fatalf("Count(in_progress) during the write = %d, %v; want 0", n, err)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx, store.Filter{Status: task.InProgress}); err != nil || n != 1 {
		t.Fatalf("Count(in_progress) after the write = %d, %v; want 1", n, err)
	}
}

// TestWaitingWriteGivesUp: a write waiting for its turn returns ctx's error when ctx
// ends, and changes nothing.
func TestWaitingWriteGivesUp(t *testing.T) {
	t.Parallel()
	s := setup(t, "x", "y")
	release := make(chan struct{})
	first := blockUpdate(s, "x", release)
	for _, c := range []struct {
		name  string
		write func(ctx context.Context) error
	}{
		{"Create", func(ctx context.Context) error {
			return s.Create(ctx, []*task.Task{{ID: "new", Status: task.Pending}})
		}},
		{"Update", func(ctx context.Context) error {
			_, err := s.Update(ctx, "y", func(t *task.Task) error { t.Name = "abandoned"; return nil })
			return err
		}},
		{"UpdateMany", func(ctx context.Context) error {
			_, err := s.UpdateMany(ctx, []store.Mutation{{ID: "y", Fn: func(t *task.Task) error { t.Name = "abandoned"; return nil }}})
			return err
		}},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, []string{"y"}) }},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- c.write(ctx) }()
		cancel() // before or after the write starts waiting: the outcome is the same
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: %v, want context.Canceled", c.name, err)
		}
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if y, err := s.Get(t.Context(), "y"); err != nil || y.Name != "y" {
		t.Fatalf("y = %v, %v: an abandoned write changed it", y, err)
	}
	if _, err := s.Get(t.Context(), "new"); apferr.CodeOf(err) != apferr.TaskNotFound {
		t.Fatalf("an abandoned Create stored its task: %v", err)
	}
}

// TestCloseWaitsForWrites: Close lets a write in progress commit, then refuses every
// call with store.ErrClosed.
func TestCloseWaitsForWrites(t *testing.T) {
	t.Parallel()
	s := setup(t, "x")
	release := make(chan struct{})
	write := blockUpdate(s, "x", release)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	// Close cannot return while the write runs.
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) during a write", err)
	default:
	}
	close(release)
	if err := <-write; err != nil {
		t.Fatalf("write in progress at Close: %v, want it committed", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := s.Get(ctx, "x"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get after Close: %v, want store.ErrClosed", err)
	}
	if _, _, err := s.List(ctx, store.Filter{}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("List after Close: %v, want store.ErrClosed", err)
	}
	if _, err := s.Update(ctx, "x", func(*task.Task) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Update after Close: %v, want store.ErrClosed", err)
	}
}

// TestEncodingErrorsRefused: a task whose wire form cannot be written or read back is
// refused, and nothing of the write is stored.
func TestEncodingErrorsRefused(t *testing.T) {
	t.Parallel()
	s := setup(t, "x")
	ctx := t.Context()
	for _, c := range []struct {
		name string
		fn   func(*task.Task) error
	}{
		{"result not JSON", func(t *task.Task) error { t.Result = make(chan int); return nil }},
		{"year 10000", func(t *task.Task) error {
			t.NextRunAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
			return nil
		}},
	} {
		_, err := s.UpdateMany(ctx, []store.Mutation{
			{ID: "x", Fn: func(t *task.Task) error { t.Name = "first"; return nil }},
			{ID: "x", Fn: c.fn},
		})
		if err == nil {
			t.Fatalf("%s: update accepted", c.name)
		}
		if got, _ := s.Get(ctx, "x"); got.Name != "x" {
			t.Fatalf("%s: a refused update was written: name %q", c.name, got.Name)
		}
	}
	bad := &task.Task{ID: "bad", Status: task.Pending, Result: func() {}}
	if err := s.Create(ctx, []*task.Task{bad}); err == nil {
		t.Fatal("Create of a task without a wire form accepted")
	}
}

func TestScanTreeConformance(t *testing.T) {
	t.Parallel()
	storetest.RunScanTree(t, func(*testing.T) *Store { return New() })
}
