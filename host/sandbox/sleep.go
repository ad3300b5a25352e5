package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// Statuses of apflow.sleep_ms (docs/abi.md, "sleep_ms"). The kits turn every status but
// SleepOK into an error.
const (
	// SleepOK: the guest slept the whole time asked.
	SleepOK int32 = 0
	// SleepCancelled: the task was cancelled (or the host is shutting down) during the
	// sleep; the call is over and ends cancelled whatever the guest does next.
	SleepCancelled int32 = 1
	// SleepDeadline: the task's deadline (its timeout) passed during the sleep; the call
	// is over and ends timed out whatever the guest does next.
	SleepDeadline int32 = 2
	// SleepInvalid: the duration is negative or longer than the operator's longest task
	// timeout; nothing was slept, the reason is in the task's log.
	SleepInvalid int32 = 3
	// SleepNotGranted: the plugin lacks the clock grant; nothing was slept.
	SleepNotGranted int32 = 4
)

// hostSleepMS is apflow.sleep_ms(ms i64) -> i32. It needs the clock grant, refuses a
// negative duration or one above the operator's ceiling of timeout_ms (no task could
// sleep that long), and otherwise waits for ms milliseconds or until the call's context
// is done, whichever comes first: the sleep never outlasts the task's deadline. Unlike
// the WASI sleep (interrupt.go), an early end returns to the guest with SleepCancelled
// or SleepDeadline, so that a plugin's retry loop can stop; the call is marked ended
// and fails as cancelled or timed out when the guest returns (see endedCall), if an
// interrupt check (interrupt.go) has not stopped the guest before.
func (r *Runtime) hostSleepMS(ctx context.Context, _ api.Module, stack []uint64) {
	cs := callStateFrom(ctx)
	cs.hostCalls++
	ms := int64(stack[0])
	switch {
	case !cs.grants.Clock:
		stack[0] = api.EncodeI32(cs.refuseSleep(ms, cs.notGranted("clock")))
	case ms < 0:
		stack[0] = api.EncodeI32(cs.refuseSleep(ms, fmt.Sprintf("sleep_ms(%d): the duration is negative", ms)))
	case ms > r.cfg.Max.TimeoutMS:
		stack[0] = api.EncodeI32(cs.refuseSleep(ms, fmt.Sprintf(
			"sleep_ms(%d): the duration is longer than the longest task timeout (%d ms)", ms, r.cfg.Max.TimeoutMS)))
	default:
		stack[0] = api.EncodeI32(cs.sleep(ctx, time.Duration(ms)*time.Millisecond))
	}
}

// refuseSleep logs why a sleep_ms call was refused and returns its status.
func (cs *callState) refuseSleep(ms int64, msg string) int32 {
	cs.logger.Warn("host call refused", "function", "sleep_ms", "ms", ms, "error", msg)
	if !cs.grants.Clock {
		return SleepNotGranted
	}
	return SleepInvalid
}

// sleep waits d or until ctx is done. When ctx ends the wait (or had ended before it),
// it records that the call is over and returns SleepCancelled or SleepDeadline.
func (cs *callState) sleep(ctx context.Context, d time.Duration) int32 {
	if d > 0 && ctx.Err() == nil {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	if ctx.Err() == nil {
		return SleepOK
	}
	cs.ended = true
	status, why := SleepCancelled, "cancelled"
	if cs.parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		status, why = SleepDeadline, "deadline passed"
	}
	cs.logger.Debug("sleep_ms ended early", "reason", why)
	return status
}

// endedCall returns the context error of a guest call that returned normally although a
// sleep_ms told it the call was over (cancelled or past its deadline): such a call fails
// as any timed-out or cancelled call does, never with the guest's result. It returns nil
// for every other call.
func (cs *callState) endedCall(gctx context.Context) error {
	if !cs.ended {
		return nil
	}
	if err := gctx.Err(); err != nil {
		return err
	}
	return context.Canceled // cannot happen: ended is set only once gctx is done
}
