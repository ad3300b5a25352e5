// Package groupcommit is the group-commit queue the durable store backends share: callers
// submit jobs, one goroutine takes them in rounds, and the backend commits each round
// as one unit (one transaction, one flush), so concurrent writers share commits.
//
// Guarantees:
//   - Order: jobs enter the queue in the order their Submit calls reach it; a round holds
//     consecutive jobs in that order, and rounds run one at a time, in order. Enqueue
//     returns once its job is in the queue, so whatever is submitted after it returns
//     commits with that job or after it.
//   - Rounds: a round is the first queued job plus every job already waiting behind it,
//     up to the maximum given to New; it never waits for more. While a round commits,
//     new jobs queue up and form the next round, so the round size follows the load.
//   - Abandonment: a caller whose context ends while its job is still queued gets the
//     context's error and its job is never handed to a round (it did not happen). Once a
//     round has taken the job, Submit waits for its outcome whatever the context, so a
//     caller never mistakes a committed change for a failed one.
//   - Close: after Close, Submit returns store.ErrClosed. Close runs the rounds of the
//     jobs queued before it and returns when the last round has returned.
//
// Pitfall: the round function runs on the queue's goroutine and must not Submit to its
// own queue (the queue would wait for itself).
package groupcommit
