package engine

import (
	"context"
	"sync/atomic"
	"time"
)

// workerIdle is how long an idle worker goroutine waits for the next task before it
// exits.
const workerIdle = 2 * time.Second

// workers runs task executions on goroutines that outlive one task: an idle one takes
// the next task, a new one starts when none is waiting (one that has just finished and
// is not waiting yet is missed, and another starts). A goroutine's stack grows to
// what a plugin call and the validation of its inputs take (tens of KiB, copied each
// time it doubles): a goroutine per task paid that growth for every task, a few percent
// of a wide run's time (docs/performance.md, ninth pass).
//
// Workers end after wait without a task, and at once when ctx ends (Engine.Close); a
// task handed to one always runs.
type workers struct {
	ctx  context.Context
	wait time.Duration // workerIdle
	jobs chan func()   // unbuffered: a send succeeds only when an idle worker receives
	// live counts the workers, idle those waiting for a task.
	live, idle atomic.Int64
}

func newWorkers(ctx context.Context) *workers {
	return &workers{ctx: ctx, wait: workerIdle, jobs: make(chan func())}
}

// run runs f on an idle worker, or on a new one.
func (w *workers) run(f func()) {
	select {
	case w.jobs <- f:
	default:
		w.live.Add(1)
		go w.loop(f)
	}
}

// loop runs f, then the tasks it receives while idle for less than w.wait.
func (w *workers) loop(f func()) {
	defer w.live.Add(-1)
	timer := time.NewTimer(w.wait)
	defer timer.Stop()
	for {
		f()
		f = nil // an idle worker holds nothing of its last task
		timer.Reset(w.wait)
		w.idle.Add(1)
		select {
		case f = <-w.jobs:
			w.idle.Add(-1)
		case <-timer.C:
			w.idle.Add(-1)
			return
		case <-w.ctx.Done():
			w.idle.Add(-1)
			return
		}
	}
}
