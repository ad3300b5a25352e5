// Package retry decides whether a failed attempt of a task runs again, and when: the
// retry policy of a task (params.retry), of its executor (the plugin's metadata) and of
// the operator (the config file), merged field by field in that order of precedence
// ([Resolve]); the classification of a failure ([Failure]); and the backoff between
// attempts ([Policy.Delay]).
//
// Guarantees:
//   - A policy that [Parse] accepted is within the bounds below; Parse names the field at
//     fault (for example params.retry.backoff.initial_ms) and accepts no unknown key.
//   - Delay never exceeds backoff.max_ms and never goes below (1 - jitter) times the
//     un-jittered delay; it is a pure function of the attempt number and the random
//     draw it is given, so a caller that applies one outcome twice (a prediction and
//     the write) gets the same time.
//   - Failures that another attempt cannot change are never retried, whatever retry_on
//     says: inputs that do not match the executor's schema, an executor that cannot be
//     found or loaded, a malformed result, a cancel (KindPermanent).
//
// Pitfalls: max_attempts counts every attempt, the first included (3 means two retries).
// An attempt lost with its node (a crash, a node missing its lease) is not a failed
// attempt: the task simply runs again, as without a policy, and the attempt is not
// recorded.
package retry
