package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/store"
)

// item is the payload of the test jobs.
type item struct {
	n   int
	ran bool // set by the round
}

// recorder is a round function that records the payloads of every round, finishing
// each job with fail(n) (nil when fail is nil). While hold is set, the next round waits
// for release after it has started.
type recorder struct {
	mu      sync.Mutex
	rounds  [][]int
	fail    func(n int) error
	hold    bool
	started chan struct{}
	release chan struct{}
}

func (r *recorder) round(jobs []*Job[*item]) {
	r.mu.Lock()
	hold := r.hold
	r.hold = false
	var ns []int
	for _, j := range jobs {
		ns = append(ns, j.Payload.n)
	}
	r.rounds = append(r.rounds, ns)
	r.mu.Unlock()
	if hold {
		close(r.started)
		<-r.release
	}
	for _, j := range jobs {
		var err error
		if r.fail != nil {
			err = r.fail(j.Payload.n)
		}
		if err == nil {
			j.Payload.ran = true
		}
		j.Finish(err)
	}
}

func (r *recorder) seen() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.rounds)
}

func setup(t *testing.T, maxJobs int) (*Queue[*item], *recorder) {
	t.Helper()
	r := &recorder{started: make(chan struct{}), release: make(chan struct{})}
	q := New(maxJobs, r.round)
	t.Cleanup(q.Close)
	return q, r
}

// blockFirst submits job 0 and returns once its round holds the committer; its Submit's
// error arrives on the returned channel after r.release is closed.
func blockFirst(t *testing.T, q *Queue[*item], r *recorder) <-chan error {
	t.Helper()
	r.mu.Lock()
	r.hold = true
	r.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- q.Submit(context.Background(), &item{n: 0}) }()
	<-r.started
	return errc
}

// submitQueued submits payload in a goroutine and returns once the job is in the queue
// (queued jobs before it: before).
func submitQueued(ctx context.Context, q *Queue[*item], it *item, before int) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- q.Submit(ctx, it) }()
	for len(q.jobs) != before+1 {
		runtime.Gosched()
	}
	return errc
}

func TestRoundsKeepOrderAndMaximum(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		max, queued int
		want        [][]int
	}{
		{max: 1, queued: 1, want: [][]int{{0}, {1}}},
		{max: 3, queued: 3, want: [][]int{{0}, {1, 2, 3}}},
		{max: 4, queued: 2, want: [][]int{{0}, {1, 2}}},
		{max: 0, queued: 1, want: [][]int{{0}, {1}}}, // below 1 means 1
	} {
		t.Run(fmt.Sprintf("max=%d,queued=%d", c.max, c.queued), func(t *testing.T) {
			t.Parallel()
			q, r := setup(t, c.max)
			first := blockFirst(t, q, r)
			var errs []<-chan error
			for i := 1; i <= c.queued; i++ {
				errs = append(errs, submitQueued(context.Background(), q, &item{n: i}, i-1))
			}
			close(r.release)
			for i, errc := range append(errs, first) {
				if err := <-errc; err != nil {
					t.Errorf("job %d: %v", i, err)
				}
			}
			if got := r.seen(); !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Errorf("rounds %v, want %v", got, c.want)
			}
		})
	}
}

func TestRoundErrorFailsOnlyItsJob(t *testing.T) {
	t.Parallel()
	q, r := setup(t, 8)
	errBad := errors.New("bad")
	r.fail = func(n int) error {
		if n == 2 {
			return errBad
		}
		return nil
	}
	first := blockFirst(t, q, r)
	var errs []<-chan error
	for i := 1; i <= 3; i++ {
		errs = append(errs, submitQueued(context.Background(), q, &item{n: i}, i-1))
	}
	close(r.release)
	<-first
	for i, errc := range errs {
		want := error(nil)
		if i+1 == 2 {
			want = errBad
		}
		if err := <-errc; !errors.Is(err, want) {
			t.Errorf("job %d: %v, want %v", i+1, err, want)
		}
	}
}

func TestAbandonedWhileQueued(t *testing.T) {
	t.Parallel()
	q, r := setup(t, 8)
	first := blockFirst(t, q, r)
	ctx, cancel := context.WithCancel(context.Background())
	dropped := &item{n: 1}
	errc := submitQueued(ctx, q, dropped, 0)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit of a job cancelled while queued: %v, want context.Canceled", err)
	}
	kept := &item{n: 2}
	keptErr := submitQueued(context.Background(), q, kept, 1)
	close(r.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-keptErr; err != nil {
		t.Fatal(err)
	}
	if dropped.ran {
		t.Error("an abandoned job was run")
	}
	if got, want := r.seen(), [][]int{{0}, {2}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rounds %v, want %v", got, want)
	}
}

func TestTakenJobIsAwaited(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  error
	}{
		{"Committed", nil},
		{"Failed", errors.New("commit failed")},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			q, r := setup(t, 8)
			r.fail = func(int) error { return c.err }
			r.hold = true
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- q.Submit(ctx, &item{n: 0}) }()
			<-r.started // the job is taken
			cancel()
			close(r.release)
			if err := <-errc; err != c.err {
				t.Errorf("Submit: %v, want the round's outcome %v", err, c.err)
			}
		})
	}
}

func TestSubmitWithEndedContext(t *testing.T) {
	t.Parallel()
	q, r := setup(t, 8)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Submit(ctx, &item{n: 0}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit: %v, want context.Canceled", err)
	}
	q.Close()
	if got := r.seen(); len(got) != 0 {
		t.Errorf("rounds %v, want none", got)
	}
}

func TestCloseRunsQueuedJobs(t *testing.T) {
	t.Parallel()
	q, r := setup(t, 2)
	first := blockFirst(t, q, r)
	var errs []<-chan error
	var items []*item
	for i := 1; i <= 2; i++ {
		it := &item{n: i}
		items = append(items, it)
		errs = append(errs, submitQueued(context.Background(), q, it, i-1))
	}
	closed := make(chan struct{})
	go func() { q.Close(); close(closed) }()
	for {
		q.mu.RLock()
		c := q.closed
		q.mu.RUnlock()
		if c {
			break
		}
		runtime.Gosched()
	}
	if err := q.Submit(context.Background(), &item{n: 9}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Submit after Close: %v, want store.ErrClosed", err)
	}
	close(r.release)
	<-closed
	for i, errc := range append(errs, first) {
		if err := <-errc; err != nil {
			t.Errorf("job %d: %v", i, err)
		}
	}
	for _, it := range items {
		if !it.ran {
			t.Errorf("job %d queued before Close was not run", it.n)
		}
	}
	q.Close() // again: returns at once
}

func TestUnfinishedJobFails(t *testing.T) {
	t.Parallel()
	q := New(4, func([]*Job[int]) {})
	t.Cleanup(q.Close)
	if err := q.Submit(context.Background(), 1); !errors.Is(err, ErrUnfinished) {
		t.Fatalf("Submit: %v, want ErrUnfinished", err)
	}
}

func TestFinishTwicePanics(t *testing.T) {
	t.Parallel()
	var recovered any
	q := New(4, func(jobs []*Job[int]) {
		jobs[0].Finish(nil)
		defer func() { recovered = recover() }()
		jobs[0].Finish(nil)
	})
	if err := q.Submit(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	q.Close()
	if recovered == nil {
		t.Error("a second Finish did not panic")
	}
}

// TestConcurrent submits from many goroutines, cancelling some, under the race detector:
// every job is run exactly when its Submit returns nil, and no round exceeds the maximum.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	const maxJobs, workers, each = 4, 16, 50
	var mu sync.Mutex
	biggest, runs := 0, map[int]int{}
	q := New(maxJobs, func(jobs []*Job[*item]) {
		mu.Lock()
		biggest = max(biggest, len(jobs))
		for _, j := range jobs {
			runs[j.Payload.n]++
		}
		mu.Unlock()
		for _, j := range jobs {
			j.Payload.ran = true
			j.Finish(nil)
		}
	})
	var wg sync.WaitGroup
	items := make([]*item, workers*each)
	errs := make([]error, len(items))
	for w := range workers {
		wg.Go(func() {
			for k := range each {
				n := w*each + k
				items[n] = &item{n: n}
				ctx, cancel := context.WithCancel(context.Background())
				if n%3 == 0 {
					go cancel()
				}
				errs[n] = q.Submit(ctx, items[n])
				cancel()
			}
		})
	}
	wg.Wait()
	q.Close()
	if biggest > maxJobs {
		t.Errorf("a round of %d jobs, want at most %d", biggest, maxJobs)
	}
	for n, it := range items {
		switch {
		case errs[n] == nil && (!it.ran || runs[n] != 1):
			t.Errorf("job %d: Submit returned nil, but it ran %d times", n, runs[n])
		case errors.Is(errs[n], context.Canceled) && (it.ran || runs[n] != 0):
			t.Errorf("job %d: Submit returned context.Canceled, but it ran %d times", n, runs[n])
		case errs[n] != nil && !errors.Is(errs[n], context.Canceled):
			t.Errorf("job %d: %v", n, errs[n])
		}
	}
}

// TestEnqueue: Enqueue returns with its job in the queue, so a job submitted after it
// runs in the same round or a later one; its wait returns the job's outcome, or the
// errors of Submit.
func TestEnqueue(t *testing.T) {
	t.Parallel()
	t.Run("a later job runs with it or after it", func(t *testing.T) {
		t.Parallel()
		q, r := setup(t, 8)
		first := blockFirst(t, q, r)
		wait := q.Enqueue(context.Background(), &item{n: 1})
		if len(q.jobs) != 1 {
			t.Fatalf("%d jobs queued after Enqueue returned, want 1", len(q.jobs))
		}
		later := submitQueued(context.Background(), q, &item{n: 2}, 1)
		close(r.release)
		for i, err := range []error{<-first, wait(), <-later} {
			if err != nil {
				t.Errorf("job %d: %v", i, err)
			}
		}
		if got, want := r.seen(), [][]int{{0}, {1, 2}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("rounds %v, want %v", got, want)
		}
	})
	t.Run("its outcome", func(t *testing.T) {
		t.Parallel()
		q, r := setup(t, 8)
		boom := errors.New("boom")
		r.fail = func(n int) error { return boom }
		if err := q.Enqueue(context.Background(), &item{n: 1})(); !errors.Is(err, boom) {
			t.Fatalf("wait = %v, want %v", err, boom)
		}
	})
	t.Run("an ended context", func(t *testing.T) {
		t.Parallel()
		q, r := setup(t, 8)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := q.Enqueue(ctx, &item{n: 1})(); !errors.Is(err, context.Canceled) {
			t.Fatalf("wait = %v, want context.Canceled", err)
		}
		if got := r.seen(); len(got) != 0 {
			t.Fatalf("rounds %v, want none", got)
		}
	})
	t.Run("after Close", func(t *testing.T) {
		t.Parallel()
		q, _ := setup(t, 8)
		q.Close()
		if err := q.Enqueue(context.Background(), &item{n: 1})(); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("wait = %v, want store.ErrClosed", err)
		}
	})
}
