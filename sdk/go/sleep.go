package apflow

import (
	"fmt"
	"time"
)

// Statuses of the sleep_ms host function (docs/abi.md, "sleep_ms"), as [Host.SleepMS]
// returns them.
const (
	// SleepOK: the whole time was slept.
	SleepOK = 0
	// SleepCancelled: the task was cancelled (or the host is shutting down) during the
	// sleep.
	SleepCancelled = 1
	// SleepDeadline: the task's deadline (its timeout) passed during the sleep.
	SleepDeadline = 2
	// SleepInvalid: the duration was negative or longer than the operator's longest task
	// timeout; nothing was slept.
	SleepInvalid = 3
	// SleepNotGranted: the plugin lacks the clock grant; nothing was slept.
	SleepNotGranted = 4
)

// Codes of the errors [Context.Sleep] returns.
const (
	// CodeCancelled: the task was cancelled while the plugin slept.
	CodeCancelled = "cancelled"
	// CodeDeadline: the task's deadline passed while the plugin slept.
	CodeDeadline = "deadline_exceeded"
	// CodeSleepRefused: the host refused the sleep (no clock grant, or a negative or
	// absurd duration).
	CodeSleepRefused = "sleep_refused"
)

// Sleep waits d through the host's sleep_ms (capability "clock"), d rounded up to a
// whole millisecond. It returns nil once d has passed, or an *Error:
//
//   - code "cancelled" or "deadline_exceeded" when the task was cancelled or its
//     deadline (timeout) passed during the wait: the wait ended there, never later. The
//     task is over: it fails as cancelled or timed out whatever Run returns (the host
//     may even stop the plugin before Run returns), so return the error at once;
//   - code "sleep_refused" when the plugin lacks the clock grant, or d is negative or
//     longer than the operator's longest task timeout: nothing was waited.
//
// This is the sleep for polling and retry with backoff. time.Sleep also waits in real
// time with the clock grant, but a cancel or deadline ends the whole call inside it
// without Run ever learning, and without the grant it returns at once.
func (c *Context) Sleep(d time.Duration) error {
	ms := int64(d / time.Millisecond)
	switch rem := d % time.Millisecond; {
	case rem > 0:
		ms++
	case rem < 0:
		ms--
	}
	switch status := c.host.SleepMS(ms); status {
	case SleepOK:
		return nil
	case SleepCancelled:
		return NewError(CodeCancelled, fmt.Sprintf("sleep of %v ended: the task was cancelled", d), nil)
	case SleepDeadline:
		return NewError(CodeDeadline, fmt.Sprintf("sleep of %v ended: the task's deadline passed", d), nil)
	case SleepInvalid:
		return NewError(CodeSleepRefused, fmt.Sprintf("sleep of %v refused: negative or longer than the longest task timeout", d), nil)
	case SleepNotGranted:
		return NewError(CodeSleepRefused, "sleep refused: capability clock not granted to this plugin", nil)
	default:
		return NewError(CodeSleepRefused, fmt.Sprintf("sleep of %v: unknown sleep_ms status %d", d, status), nil)
	}
}
