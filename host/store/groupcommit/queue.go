package groupcommit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/apflow-wasm/apflow/host/store"
)

// ErrUnfinished is the outcome of a job its round returned without finishing: a defect
// of the round function, reported to the caller rather than leaving it waiting forever.
var ErrUnfinished = errors.New("group commit: the round returned without finishing the job")

// Job states: a queued job is taken by a round or abandoned by its caller, whichever
// happens first; a taken job is then finished exactly once.
const (
	queued int32 = iota
	taken
	abandoned
	finished
)

// Job is one submitted unit of work, carrying the backend's payload P.
type Job[P any] struct {
	// Payload is the value given to Submit. The round may change what it points to
	// (to hand results back) until it finishes the job.
	Payload P

	state atomic.Int32
	err   error
	done  chan struct{}
}

// Finish reports the job's outcome to its caller (nil: committed). The round must call
// it exactly once for each job it is handed; a second call panics. The caller returns
// as soon as its job is finished, so a round may finish the jobs of an early commit
// before it goes on with the rest.
func (j *Job[P]) Finish(err error) {
	if !j.state.CompareAndSwap(taken, finished) {
		panic("groupcommit: Finish called on a job that is not taken, or twice")
	}
	j.err = err
	close(j.done)
}

// Queue runs submitted jobs in rounds on one goroutine. It is safe for concurrent use.
type Queue[P any] struct {
	round   func(jobs []*Job[P])
	max     int
	jobs    chan *Job[P]
	stopped chan struct{}

	mu     sync.RWMutex // guards closed against sends on jobs
	closed bool
}

// New starts a queue whose rounds hold at most maxJobs jobs (at least 1) and are run by
// round. round is handed only jobs whose callers still wait, in submission order; it must
// Finish each of them before it returns and must not keep the slice.
func New[P any](maxJobs int, round func(jobs []*Job[P])) *Queue[P] {
	maxJobs = max(maxJobs, 1)
	q := &Queue[P]{round: round, max: maxJobs, jobs: make(chan *Job[P], maxJobs), stopped: make(chan struct{})}
	go q.run()
	return q
}

// Submit queues a job carrying payload and waits for its outcome: the error its round
// finished it with, ctx's error if ctx ended while the job was still queued (the job is
// then dropped), or store.ErrClosed after Close.
func (q *Queue[P]) Submit(ctx context.Context, payload P) error {
	return q.Enqueue(ctx, payload)()
}

// Enqueue queues a job carrying payload and returns at once, the job in the queue: a job
// submitted after Enqueue returns runs in the same round or a later one. The returned
// function waits for the job's outcome, as Submit does (ctx still abandons the job while
// it is queued); it must be called once, and its caller waits for the round.
func (q *Queue[P]) Enqueue(ctx context.Context, payload P) (wait func() error) {
	if err := ctx.Err(); err != nil {
		return func() error { return err }
	}
	j := &Job[P]{Payload: payload, done: make(chan struct{})}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return func() error { return store.ErrClosed }
	}
	q.jobs <- j
	q.mu.RUnlock()
	return func() error {
		select {
		case <-j.done:
			return j.err
		case <-ctx.Done():
			if j.state.CompareAndSwap(queued, abandoned) {
				return ctx.Err()
			}
			<-j.done
			return j.err
		}
	}
}

// Queued is the number of jobs waiting for a round (for tests and statistics).
func (q *Queue[P]) Queued() int { return len(q.jobs) }

// Close stops accepting jobs, runs the rounds of those already queued, and returns when
// the last round has returned. It is safe to call more than once and concurrently.
func (q *Queue[P]) Close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	<-q.stopped
}

// run takes rounds from the queue until it is closed and drained.
func (q *Queue[P]) run() {
	defer close(q.stopped)
	batch := make([]*Job[P], 0, q.max)
	jobs := make([]*Job[P], 0, q.max)
	for {
		j, ok := <-q.jobs
		if !ok {
			return
		}
		batch = append(batch[:0], j)
	fill:
		for len(batch) < q.max {
			select {
			case j, ok := <-q.jobs:
				if !ok {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		jobs = q.runRound(batch, jobs[:0])
		clear(batch)
		clear(jobs)
	}
}

// runRound takes the jobs of batch whose callers still wait (appending them to jobs),
// hands them to the round function, and finishes any it left unfinished.
func (q *Queue[P]) runRound(batch, jobs []*Job[P]) []*Job[P] {
	for _, j := range batch {
		if j.state.CompareAndSwap(queued, taken) {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return jobs
	}
	q.round(jobs)
	for _, j := range jobs {
		if j.state.Load() == taken {
			j.Finish(ErrUnfinished)
		}
	}
	return jobs
}
