package task

import (
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// RetryState is the retry bookkeeping of a task whose retry policy allows more than one
// attempt (Task.Retry; docs/retries.md). Wire form:
//
//	{"max_attempts": 3, "next_attempt_at": "<timestamp>" | null, "history": [<attempt>, ...]}
type RetryState struct {
	// MaxAttempts is the policy's number of attempts, the first included.
	MaxAttempts int `json:"max_attempts"`
	// NextAttemptAt is when the next attempt starts, while the task waits for it
	// (pending after a failed attempt); zero otherwise.
	NextAttemptAt time.Time `json:"next_attempt_at"`
	// History lists the attempts of the current run, oldest first.
	History []Attempt `json:"history"`
}

// Attempt is one execution of a task in its attempt history.
type Attempt struct {
	Attempt    int       `json:"attempt"` // 1 for the first
	StartedAt  time.Time `json:"started_at"`
	EndedAt    time.Time `json:"ended_at"`
	DurationMS float64   `json:"duration_ms"`
	// Error is the attempt's error ("" when it succeeded); Kind its failure kind
	// (timeout, trap, error_result, error, permanent).
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

// NextAttempt is the number the task's next attempt has in its history.
func (t *Task) NextAttempt() int {
	if t.Retry == nil {
		return 1
	}
	return len(t.Retry.History) + 1
}

// EndedAttempt is the number of the task's attempt that ended last, once it has ended:
// the last of its retry history, or 1 when it keeps none.
func (t *Task) EndedAttempt() int {
	if t.Retry == nil || len(t.Retry.History) == 0 {
		return 1
	}
	return len(t.Retry.History)
}

// WaitingRetry reports whether the task is pending after a failed attempt, waiting for
// its next one (at Retry.NextAttemptAt).
func (t *Task) WaitingRetry() bool { return IsWaitingRetry(t.Status, t.Retry) }

// IsWaitingRetry is WaitingRetry of a task with this status and retry state, for code
// that keeps them without the task.
func IsWaitingRetry(s Status, r *RetryState) bool {
	return s == Pending && r != nil && !r.NextAttemptAt.IsZero()
}

// RecordAttempt adds a finished attempt to the task's history; the outcome itself is
// written by Complete or Fail.
func (t *Task) RecordAttempt(a Attempt, maxAttempts int) {
	if t.Retry == nil {
		t.Retry = &RetryState{}
	}
	t.Retry.MaxAttempts = maxAttempts
	t.Retry.NextAttemptAt = time.Time{}
	t.Retry.History = append(t.Retry.History, a)
}

// AwaitRetry records a failed attempt that will be retried: the in_progress task goes
// back to pending, without error or result (the attempt's error is in its history),
// until next. It is not terminal, so its dependents wait for the final outcome.
func (t *Task) AwaitRetry(a Attempt, maxAttempts int, next, now time.Time) error {
	if t.Status != InProgress {
		return apferr.New(apferr.InvalidTransition, fmt.Sprintf(
			"Invalid state transition: task %s is %s, not in_progress: only a running attempt can wait for a retry", t.ID, t.Status))
	}
	usage := t.Usage
	if err := t.Reset(now); err != nil { // in_progress → pending keeps the history
		return err
	}
	t.Usage = usage // the failed attempt's cost stays visible
	t.RecordAttempt(a, maxAttempts)
	t.Retry.NextAttemptAt = next
	return nil
}

func (r *RetryState) clone() *RetryState {
	if r == nil {
		return nil
	}
	c := *r
	c.History = append([]Attempt(nil), r.History...)
	return &c
}
