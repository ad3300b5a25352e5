package sandbox

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// Blocking host calls.
//
// wazero's close-on-context-done stops a guest at its next function call or loop back
// edge, but not while it is blocked in the host: its nanosleep hook (used by
// poll_oneoff's clock subscriptions, which is how Go, Rust and C guests sleep) is a
// plain time.Sleep that takes no context, and a host function returns only when it is
// done. So every host call that can block is bound to the call's context (the task's
// deadline, the caller's cancellation and the runtime's closing, see
// Runtime.callContext) and, once that context is done, ends the guest call with
// abortCall instead of returning to the guest.

// sleep is the nanosleep of an instance granted the clock: it sleeps ns nanoseconds or
// until the context of the call the instance serves is done, and then aborts the call.
func (in *instance) sleep(ns int64) {
	ctx := in.ctx
	if ctx == nil {
		// Not serving a call (cannot happen: the pool binds every call): do not block.
		return
	}
	if ns <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		abortCall(ctx)
	}
}

// abortCall ends the guest call whose context ctx is done. It must be called from a
// host function (or a hook wazero calls from one) on the guest's goroutine: it panics
// with the exit error that close-on-context-done gives (deadline exceeded or
// cancelled), which wazero returns as the call's error without resuming the guest, so
// the guest never sees the host call return and cannot finish after its deadline. The
// caller then classifies the error (describe) and discards the instance.
func abortCall(ctx context.Context) {
	code := sys.ExitCodeContextCanceled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = sys.ExitCodeDeadlineExceeded
	}
	panic(sys.NewExitError(code))
}

// abortIfDone aborts the guest call if ctx is done; host functions call it after a
// blocking operation failed, to tell the end of the call from a failure to report to
// the guest.
func abortIfDone(ctx context.Context) {
	if ctx.Err() != nil {
		abortCall(ctx)
	}
}

// callContext returns the context of one guest call: ctx, bounded by timeout, and
// cancelled when the runtime closes, so that a call blocked in a host call ends with
// the host. The returned cancel must be called when the call ends.
func (r *Runtime) callContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	stop := context.AfterFunc(r.life, cancel)
	return tctx, func() {
		stop()
		cancel()
	}
}
