// Package engine runs task trees: it decides when each task of a stored tree starts, runs
// it through an executor.Catalog, injects dependency results, records every status change
// in the store.Store, and tells subscribers what happened.
//
// Guarantees (docs/semantics.md rules 7–18):
//   - A task starts only when it is pending, every required dependency is completed (a null
//     result counts) and every optional dependency is terminal. Among ready tasks, priority
//     0 starts first, then 1, 2, 3; ties go to submission order (task.Seq). At most
//     Config.Concurrency tasks execute at once, engine-wide.
//   - A dependency-free root starts only when nothing else of its run can progress
//     ("children first, root last").
//   - Dependents of a failed or cancelled required dependency stay pending with the error
//     "blocked: required dependency <id> <status>", transitively; the run then ends.
//   - Every status change is committed to the store before it is acted on: a dependent
//     starts in the same transaction that completes its last dependency, or a later one.
//   - A task never runs twice at once and a tree never runs twice at once.
//   - A late result of a cancelled task never overwrites cancelled.
//   - A run is durable: the root carries a run marker (task.Task.Run, wire "run": its
//     scope and start time) from the first commit of the run until the commit that ends
//     it. A run that Close, a store failure or a crash stopped keeps it, and Recover
//     resumes exactly the marked trees with their recorded scope (plus, for stores written
//     before markers existed, trees holding orphaned in_progress tasks). Completed tasks
//     never run again on a resume; failed and cancelled ones are not retried. A run that
//     ended (completed, blocked, cancelled, sub-task runs included) is never resumed.
//   - Close is a normal shutdown: it returns nil when it re-queued work for Recover, and
//     an error only when the store failed under a run.
//
// Design: one coordinator goroutine per run owns an in-memory index of the run's tasks
// (dependencies, dependents, counts of unsettled dependencies), built once when the run
// starts. Every terminal transition decrements its dependents' counts; a count reaching
// zero puts the dependent on a priority heap. Nothing recurses per dependency level and
// nothing reloads the tree per completion, so a run costs O(tasks + dependencies).
// Executors run on their own goroutines; their results come back to the coordinator, which
// commits completions, blocked markers and the start transitions of newly ready tasks in
// one store.UpdateMany per round (group commit of the run's own writes).
package engine
