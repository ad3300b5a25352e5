package engine

import (
	"sync"
	"sync/atomic"
)

// callObservers are the functions told of every executor call (Engine.ObserveExecutors).
// The list is replaced whole under mu, and read without a lock by the calls.
type callObservers struct {
	mu   sync.Mutex
	next int
	fns  atomic.Pointer[map[int]func(executor string, seconds float64)]
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
	o := &e.calls
	o.mu.Lock()
	defer o.mu.Unlock()
	id := o.next
	o.next++
	o.replace(func(m map[int]func(string, float64)) { m[id] = fn })
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.replace(func(m map[int]func(string, float64)) { delete(m, id) })
		})
	}
}

// replace stores a copy of the observers changed by change; the caller holds mu.
func (o *callObservers) replace(change func(map[int]func(string, float64))) {
	m := map[int]func(string, float64){}
	if cur := o.fns.Load(); cur != nil {
		for k, fn := range *cur {
			m[k] = fn
		}
	}
	change(m)
	o.fns.Store(&m)
}

// observe tells every observer of one call.
func (o *callObservers) observe(executor string, seconds float64) {
	if fns := o.fns.Load(); fns != nil {
		for _, fn := range *fns {
			fn(executor, seconds)
		}
	}
}
