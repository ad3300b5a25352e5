package task

import "time"

// The methods below are the only code that moves a task between statuses. Each keeps the
// status/field consistency rules of docs/semantics.md rule 2 (timestamps, result, error, progress)
// and returns the error of CheckTransition when the edge is not allowed, leaving the task
// unchanged.

// Start moves a pending task to in_progress: started_at is stamped, error and the stale
// outcome of an earlier run are cleared, and the attempt is counted. A task waiting for
// a retry keeps its attempt history; it is no longer waiting.
func (t *Task) Start(now time.Time) error {
	if err := CheckTransition(t.Status, InProgress); err != nil {
		return err
	}
	if t.Retry != nil {
		t.Retry.NextAttemptAt = time.Time{}
	}
	t.Status = InProgress
	t.StartedAt = now
	t.CompletedAt = time.Time{}
	t.Error = ""
	t.Result = nil
	t.Progress = 0
	t.HookErrors = nil
	t.InputsBeforeHooks = nil
	t.Attempts++
	t.UpdatedAt = now
	return nil
}

// Complete moves an in_progress task to completed with the given result; progress
// becomes 1.
func (t *Task) Complete(result any, now time.Time) error {
	if err := CheckTransition(t.Status, Completed); err != nil {
		return err
	}
	t.Status = Completed
	t.Result = result
	t.Error = ""
	t.Progress = 1
	t.CompletedAt = now
	t.UpdatedAt = now
	return nil
}

// Fail moves an in_progress task to failed. result is kept when the executor returned an
// error object (the reference stores it); it is nil for traps, timeouts and the like.
// Progress drops to 0 as in the reference.
func (t *Task) Fail(msg string, result any, now time.Time) error {
	if err := CheckTransition(t.Status, Failed); err != nil {
		return err
	}
	if msg == "" {
		msg = "task failed"
	}
	t.Status = Failed
	t.Error = msg
	t.Result = result
	t.Progress = 0
	t.CompletedAt = now
	t.UpdatedAt = now
	return nil
}

// Cancel moves a pending or in_progress task to cancelled with a message (default
// "Cancelled by user"). Any result is discarded, and a task waiting for its next attempt
// waits no more (its attempt history is kept).
func (t *Task) Cancel(msg string, now time.Time) error {
	if err := CheckTransition(t.Status, Cancelled); err != nil {
		return err
	}
	if t.Retry != nil {
		t.Retry.NextAttemptAt = time.Time{}
	}
	if msg == "" {
		msg = "Cancelled by user"
	}
	t.Status = Cancelled
	t.Error = msg
	t.Result = nil
	t.CompletedAt = now
	t.UpdatedAt = now
	return nil
}

// Reset puts a task back to pending for re-execution (failed, cancelled, completed) or
// after a crash (in_progress): result, error, progress, usage and timestamps of the run
// are cleared; the definition (params, schemas, dependencies) is kept. A re-execution
// starts a new attempt history, and it and a pending task reset (a blocked one) start
// from the task's own inputs (OwnOrInputs: nothing an earlier run injected). A task put back from in_progress (a crash, a claim that
// expired, a retry's wait) keeps the attempt history, so that the run's attempts go on
// counting, and the inputs its dependencies' results were injected into, without the
// pre-hooks' edits: a node that claims it again in a cluster runs it with those, and the
// hooks apply again.
func (t *Task) Reset(now time.Time) error {
	if err := CheckTransition(t.Status, Pending); err != nil {
		return err
	}
	if t.Status.Terminal() {
		t.Retry = nil
	}
	switch {
	case t.Status != InProgress:
		t.restoreOwnInputs()
	case t.InputsBeforeHooks != nil:
		t.Inputs = t.InputsBeforeHooks
	}
	t.Status = Pending
	t.Result = nil
	t.Error = ""
	t.Progress = 0
	t.StartedAt = time.Time{}
	t.CompletedAt = time.Time{}
	t.Usage = nil
	t.HookErrors = nil
	t.InputsBeforeHooks = nil
	t.UpdatedAt = now
	return nil
}

// Blocked reports whether a pending task carries the blocked marker (docs/semantics.md rule 13).
func (t *Task) Blocked() bool { return IsBlocked(t.Status, t.Error) }

// IsBlocked is Blocked of a task with this status and error, for code that keeps them
// without the task.
func IsBlocked(s Status, err string) bool {
	return s == Pending && len(err) >= len(BlockedPrefix) && err[:len(BlockedPrefix)] == BlockedPrefix
}

// BlockedPrefix starts the error of a pending task whose required dependency failed or was
// cancelled: "blocked: required dependency <id> <status>".
const BlockedPrefix = "blocked: "
