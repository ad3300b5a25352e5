package engine

import (
	"math/rand/v2"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/retry"
	"github.com/apflow-wasm/apflow/host/task"
)

// Retries (docs/retries.md). A failed attempt that its policy retries is not an outcome:
// outcome.apply writes it to the attempt history and puts the task back to pending
// until its next attempt (task.AwaitRetry), in the same write that a final outcome
// would have been. The task is not terminal, so its dependents wait. How the
// coordinator waits for the next attempt is park.go.

// fail records a failed attempt of the given kind.
func (o *outcome) fail(kind retry.Kind, msg string) {
	o.failed, o.msg = true, msg
	o.failure = retry.Failure{Kind: kind, Message: msg}
}

// policyOf resolves the retry policy of a task executed by the executor described by
// info: the task's params.retry, then the executor's, then the operator's. A stored
// params.retry that does not parse (checked at submission and update, so only an older
// store's) is left out, and said so.
func (e *Engine) policyOf(t *task.Task, info *executor.Info) retry.Policy {
	var exec retry.Spec
	own, err := retry.FromParams(t.Params)
	if err != nil {
		e.cfg.Logger.Warn("ignoring an invalid retry policy", "task", t.ID, "error", err)
	}
	if info != nil && info.Retry != nil {
		exec = *info.Retry
	}
	return retry.Resolve(own, exec, e.cfg.Retry)
}

// recordAttempt writes the attempt the outcome ends to t's history when its policy
// allows more than one attempt, or it has a history already (the policy changed, or the
// executor vanished, between attempts), and reports whether the task waits for another
// one: it then is pending again (task.AwaitRetry).
func (o *outcome) recordAttempt(t *task.Task) (waits bool, err error) {
	if o.policy.MaxAttempts <= 1 && t.Retry == nil {
		return false, nil
	}
	a := task.Attempt{Attempt: t.NextAttempt(), StartedAt: t.StartedAt, EndedAt: o.ended}
	if o.usage != nil {
		a.DurationMS = o.usage.DurationMS
	}
	if o.failed {
		a.Error, a.Kind = o.msg, string(o.failure.Kind)
		if a.Attempt < o.policy.MaxAttempts && o.policy.Retries(o.failure) {
			next := o.ended.Add(o.policy.Delay(a.Attempt, o.draw))
			return true, t.AwaitRetry(a, o.policy.MaxAttempts, next, o.ended)
		}
	}
	n := o.policy.MaxAttempts
	if n == 0 && t.Retry != nil { // not resolved: the executor panicked in the host first
		n = t.Retry.MaxAttempts
	}
	t.RecordAttempt(a, n)
	return false, nil
}

// drawJitter draws the random part of a failed attempt's backoff once, so that the
// coordinator's prediction and the write agree.
func (o *outcome) drawJitter() {
	if o.failed && o.policy.MaxAttempts > 1 {
		o.draw = rand.Float64()
	}
}
