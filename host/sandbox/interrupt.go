package sandbox

import (
	"context"
	"errors"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// Interrupts.
//
// A guest call ends when its context is done: the task's deadline, the caller's
// cancellation or the runtime closing (Runtime.callContext). wazero can do that itself
// (close-on-context-done), but its compiled code then leaves native code to call into
// Go at every loop iteration, which was most of the cost of a Go, C or AssemblyScript
// guest (docs/decisions.md §7). So the runtime runs without it, and the module rewrite
// (stack.go) makes the guest check for itself:
//
//   - Two hidden mutable i32 globals are appended after the stack globals: the
//     interrupt flag, exported as interruptGlobal, and a fuel counter. A module valid
//     as written cannot name them (the original bytes are validated before the
//     rewrite), so only the host sets the flag and only the checks touch the fuel.
//   - Every loop body starts with an interrupt check, and every function's prologue
//     ends with one (interruptCheck): it counts the fuel down and, every yieldEvery
//     checks, runs memory.grow 0 and traps with unreachable if the flag is raised. A
//     runaway loop so stops within yieldEvery iterations of the flag, and a runaway
//     recursion, even one that never grows deep (a 2^n call tree), within yieldEvery
//     calls. The walker that finds the loops (walk.go) decodes every instruction; a
//     module with one it does not know is refused, never run unchecked.
//   - The memory.grow 0 is not for the memory: wazero runs it in Go, so it is where the
//     Go runtime can stop the guest's goroutine. Compiled wasm code cannot be preempted;
//     a guest that never left it would block every stop-the-world of the process (a
//     garbage collection waits for it, and with it every goroutine, the one that would
//     raise the flag included: a deadlock, seen when only the flag was checked).
//     Close-on-context-done gave that exit at every iteration; the fuel gives it every
//     yieldEvery checks, so a collection waits at most that many iterations or calls.
//     A module without a memory gets no exit, but Load refuses such a module before
//     running it (a plugin must export its memory).
//   - While an instance serves a call, arm registers a context.AfterFunc that raises the
//     flag once the call's context is done. An instance whose flag was raised is never
//     reused (pool.release discards it, even if the call returned first), so the flag
//     is never cleared.
//   - The trap is the check's unreachable; the host tells it from the guest's own by the
//     flag (interrupted), which it reads only after disarm, and classifies the failure
//     by the context exactly as before (timeout or cancelled, describe).
//
// Memory model. The flag is set by Set, a plain aligned 8-byte store into the
// instance's globals, from the AfterFunc goroutine, while the guest reads it in native
// code on its own goroutine. The Go memory model says nothing about code Go did not
// compile, and the race detector cannot see it; what makes this sound is that wazero's
// compiler loads the flag from memory at every check (a check starts a block of its
// own, after the fuel test, and wazero keeps no global in a register across blocks with
// several predecessors, across a loop's back edge or a call, and has no pass hoisting
// loads), that the check follows an exit to Go, and that an aligned store on amd64 and
// arm64 becomes visible to other cores without tearing. So the guest sees the flag at
// its next check after the store. Between Go goroutines the ordering is explicit: the
// AfterFunc closes fired after the store, and disarm waits for fired before anything in
// Go reads the flag.
//
// Blocking host calls. A guest blocked in the host does not reach a check: wazero's
// nanosleep hook (used by poll_oneoff's clock subscriptions, which is how Go, Rust and C
// guests sleep) is a plain time.Sleep that takes no context, and a host function
// returns only when it is done. So every host call that can block is bound to the
// call's context and, once that context is done, ends the guest call with abortCall
// instead of returning to the guest.

// arm makes the instance serve a call under ctx: its nanosleep ends with ctx, its
// interrupt flag is raised once ctx is done, and its memory is not unmapped until
// disarm (limitedMemory.enter). Each arm must be followed by one disarm before the
// instance serves another call.
func (in *instance) arm(ctx context.Context) {
	in.ctx = ctx
	in.mem.enter()
	s := in.stack
	if s == nil {
		return // no function of its own: nothing to interrupt
	}
	fired := make(chan struct{})
	s.fired = fired
	s.stop = context.AfterFunc(ctx, func() {
		s.interrupt.Set(1)
		close(fired)
	})
}

// disarm ends what arm started and reports whether the flag was raised. After it, the
// flag is no longer written and interrupted may read it, and the memory a close or a
// move left mapped during the call is unmapped (limitedMemory.leave). It may be called
// more than once.
func (in *instance) disarm() bool {
	in.ctx = nil
	in.mem.leave()
	s := in.stack
	if s == nil || s.stop == nil {
		return s.interrupted()
	}
	if !s.stop() {
		<-s.fired // raising (or raised): wait for the store to be ordered before reads
	}
	s.stop, s.fired = nil, nil
	return s.interrupted()
}

// interrupted reports whether the interrupt flag was raised: the instance's last call
// was told to stop, and a trap of that call is the host's check, not the guest's own
// unreachable. Only after disarm.
func (s *stackMeter) interrupted() bool {
	return s != nil && s.interrupt.Get() != 0
}

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
// with wazero's exit error for a done context (deadline exceeded or cancelled), which
// wazero returns as the call's error without resuming the guest, so
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
