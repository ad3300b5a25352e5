package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"
)

// Kind classifies what went wrong in a sandboxed call.
type Kind string

// Kinds of [Error].
const (
	// KindInvalid: the module was rejected at load (exports, imports, metadata, schema).
	KindInvalid Kind = "invalid_module"
	// KindTimeout: the call exceeded its wall-time limit and was interrupted.
	KindTimeout Kind = "timeout"
	// KindCancelled: the caller's context was cancelled; the guest was interrupted.
	KindCancelled Kind = "cancelled"
	// KindTrap: the guest trapped (unreachable, divide by zero, out of bounds access...).
	KindTrap Kind = "trap"
	// KindStackOverflow: the guest exhausted its call stack.
	KindStackOverflow Kind = "stack_overflow"
	// KindOutOfMemory: the guest needed more memory than its limit allows.
	KindOutOfMemory Kind = "out_of_memory"
	// KindExit: the guest exited (proc_exit), e.g. a Go panic exits with code 2.
	KindExit Kind = "exit"
	// KindPanic: the guest panicked (a Go or Rust panic message on stderr, then a trap or
	// exit); the message quotes the panic.
	KindPanic Kind = "panic"
	// KindResult: the guest returned a malformed result (out of bounds, too large, not JSON).
	KindResult Kind = "bad_result"
	// KindInput: the inputs do not match the plugin's input schema.
	KindInput Kind = "invalid_input"
	// KindClosed: the module or runtime was closed.
	KindClosed Kind = "closed"
)

// Error is the error of a load or call. Its message names the plugin and its hash and
// says what happened: `plugin loop (sha256 9f86d081884c…): timed out after 2s`.
type Error struct {
	Plugin string // plugin id
	Hash   string // sha256 hex of the module
	Kind   Kind
	Msg    string // what happened, without the plugin prefix
	Err    error  // the underlying error, if any (context errors for timeouts and cancels)
}

// Error implements error.
func (e *Error) Error() string {
	h := e.Hash
	if len(h) > 12 {
		h = h[:12] + "…"
	}
	return fmt.Sprintf("plugin %s (sha256 %s): %s", e.Plugin, h, e.Msg)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// FailureKind returns the Kind as a string: the engine's retry policy classifies a
// failed attempt by it (host/retry.Classify).
func (e *Error) FailureKind() string { return string(e.Kind) }

// KindOf returns the Kind of the first *Error in err's chain, or "".
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// hostAbort is panicked by a host function that cannot continue (the guest's alloc
// failed while the host handed it a result); wazero turns it into the call's error.
type hostAbort struct {
	op  string
	err error
}

func (h *hostAbort) Error() string { return h.op + ": " + h.err.Error() }
func (h *hostAbort) Unwrap() error { return h.err }

// describe classifies the error of a guest call. parent is the caller's context, ctx the
// one carrying the wall-time limit; mem tells whether a memory growth was refused, stack
// whether the stack budget was exhausted (nil: unknown).
func describe(parent, ctx context.Context, err error, timeout time.Duration, mem *limitedMemory, stack *stackMeter) (Kind, string) {
	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	// A raised interrupt flag means the context is done: the trap is the host's check.
	interrupted := stack.interrupted()
	switch {
	case parent.Err() != nil:
		return KindCancelled, "execution cancelled"
	case errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		(isExit && exit.ExitCode() == sys.ExitCodeDeadlineExceeded):
		return KindTimeout, "timed out after " + timeout.String()
	case isExit && exit.ExitCode() == sys.ExitCodeContextCanceled,
		errors.Is(ctx.Err(), context.Canceled), // the runtime is closing: Close cancels ctx
		interrupted:
		return KindCancelled, "execution cancelled"
	}
	var kind Kind
	var msg string
	if isExit {
		kind, msg = KindExit, fmt.Sprintf("exited with code %d", exit.ExitCode())
	} else {
		line, _, _ := strings.Cut(err.Error(), "\n")
		line = strings.TrimSuffix(line, " (recovered by wazero)")
		// A trap inside a host function's re-entrant alloc is wrapped by hostAbort.
		line = strings.Replace(line, "wasm error: ", "", 1)
		kind, msg = KindTrap, "trapped: "+line
		if stack.exhausted() {
			kind, msg = KindStackOverflow, stackExhaustedMsg
		} else if strings.Contains(line, "stack overflow") {
			kind, msg = KindStackOverflow, "stack overflow (call stack exhausted, e.g. by unbounded recursion): "+msg
		}
	}
	switch {
	case mem != nil && mem.unmapped.Load():
		return KindOutOfMemory, fmt.Sprintf("out of memory: the host could not map more memory for the plugin, below its memory limit %s (the host's address space or memory is exhausted) (then %s)",
			formatPages(uint32(mem.limit.Load()/pageSize)), msg)
	case mem != nil && mem.refused.Load():
		return KindOutOfMemory, fmt.Sprintf("out of memory: memory limit %s reached (then %s)",
			formatPages(uint32(mem.limit.Load()/pageSize)), msg)
	}
	return kind, msg
}
