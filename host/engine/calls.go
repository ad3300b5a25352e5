package engine

import (
	"slices"
	"sync"
	"sync/atomic"
)

// callObservers are the functions told of every executor call (Engine.ObserveExecutors).
// The list is replaced whole under mu, and read without a lock by the calls.
type callObservers struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*callObserver]
}

// callObserver is one ObserveExecutors registration; its address identifies it.
type callObserver struct {
	fn func(executor string, seconds float64)
}

// ObserveExecutors has fn called after every executor call the engine makes, whatever
// started the run (tasks.execute, a schedule, a resumed or a claimed task) and whatever
// the call's outcome, with the executor's id and the call's duration in seconds: the
// executor's own measure when it reports one (task.Usage.DurationMS), else the host's.
// fn runs on the goroutine that made the call, so it must be quick and safe for
// concurrent use. The function returned stops the calls to fn.
//
// It lets a metrics writer count calls as they happen instead of reading trees back
// (docs/performance.md, eighteenth pass).
func (e *Engine) ObserveExecutors(fn func(executor string, seconds float64)) (stop func()) {
	o, obs := &e.calls, &callObserver{fn: fn}
	o.replace(func(l []*callObserver) []*callObserver { return append(l, obs) })
	var once sync.Once
	return func() {
		once.Do(func() {
			o.replace(func(l []*callObserver) []*callObserver {
				return slices.DeleteFunc(l, func(x *callObserver) bool { return x == obs })
			})
		})
	}
}

// replace stores the list change makes of a copy of the current one.
func (o *callObservers) replace(change func([]*callObserver) []*callObserver) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var cur []*callObserver
	if l := o.list.Load(); l != nil {
		cur = slices.Clone(*l)
	}
	next := change(cur)
	o.list.Store(&next)
}

// observe tells every observer of one call.
func (o *callObservers) observe(executor string, seconds float64) {
	if l := o.list.Load(); l != nil {
		for _, obs := range *l {
			obs.fn(executor, seconds)
		}
	}
}
