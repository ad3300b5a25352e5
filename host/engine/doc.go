// Package engine runs task trees: it decides when each task of a stored tree starts, runs
// it through an executor.Catalog, injects dependency results, records every status change
// in the store.Store, and tells subscribers what happened.
//
// Guarantees (docs/semantics.md rules 7–18):
//   - A task starts only when it is pending, every required dependency is completed (a null
//     result counts) and every optional dependency is terminal. Among ready tasks, priority
//     0 starts first, then 1, 2, 3; ties go to submission order (task.Seq). At most
//     Config.Concurrency tasks execute at once, engine-wide, and no reader of the store
//     ever sees more than that many in_progress: a task's slot is free again only once
//     its terminal state is committed. A task's completed_at is when its executor
//     returned, so with one slot a task's started_at is never before the previous
//     task's completed_at.
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
//     never run again on a resume; failed and cancelled ones are not run again. A run that
//     ended (completed, blocked, cancelled, sub-task runs included) is never resumed.
//   - Close is a normal shutdown: it returns nil when it re-queued work for Recover, and
//     an error only when the store failed under a run.
//
// Design: one coordinator (coordinator.go) per run, on its own goroutine, owns an
// in-memory index of the run's tasks (dependencies, dependents, counts of unsettled
// dependencies), built once when the run starts, and a view of each task (about 150
// bytes): the whole task only for the root and while the task is in flight
// (snapshot.go). A store that can scan a tree (memstore, badgerstore) is loaded one task
// at a time, so a run never holds its tree decoded at once.
// Every terminal transition decrements its dependents' counts; a count reaching zero puts
// the dependent on a priority heap. Nothing recurses per dependency level and nothing
// reloads the tree per completion, so a run costs O(tasks + dependencies).
// Executors run on worker goroutines that take the next task when idle (workers.go), as
// do the tasks a cluster node claims; their results come back to the coordinator, which
// commits completions, blocked markers and the start transitions of newly ready tasks in
// one store.UpdateMany per round (group commit of the run's own writes).
//
// # Which file changes which status
//
// Every status change is a lifecycle method of host/task (Start, Complete, Fail, Cancel,
// Reset). In this package these are the places that call them; all run on a run's
// coordinator goroutine (type coordinator, coordinator.go) unless noted:
//
//   - pending → in_progress: start.go, coordinator.prepareStart queues the start write,
//     which also stores the inputs merged by inject (inject.go); once it is committed,
//     worker.go, coordinator.dispatch runs Engine.work and Engine.execute on their own
//     goroutine.
//   - in_progress → completed or failed: worker.go, Engine.execute decides the outcome
//     (error key, executor failures, inputs invalid after injection); outcome.go,
//     coordinator.handleOutcome writes Complete or Fail.
//   - → cancelled: cancel.go, Engine.Cancel passes the cancel of a running tree to
//     coordinator.handleCancel, and cancels in a tree that is not running through
//     Engine.cancelIdle (on the caller's goroutine).
//   - the blocked marker (pending, error "blocked: ..."): coordinator.go,
//     coordinator.markBlocked, called by coordinator.init when the run starts and by
//     coordinator.propagate as dependencies settle; finish.go, coordinator.finish for
//     tasks that could never start; cancel.go, Engine.cancelIdle for dependents of a
//     cancel outside a run.
//   - re-run resets (→ pending): graph.go, graph.resetSet chooses the tasks;
//     coordinator.go, coordinator.load writes the resets in the run's first commit.
//   - a failed attempt that its retry policy retries (in_progress → pending, waiting):
//     outcome.go, outcome.apply through retry.go, outcome.recordAttempt (task.AwaitRetry);
//     retry.go, coordinator.awaitRetry parks the task until its next attempt is due.
//   - recovery (in_progress → pending): recover.go, Engine.resetOrphans at start-up, then
//     Engine.Recover resumes the marked runs; outcome.go, coordinator.handleOutcome puts a
//     task that Close interrupted back to pending.
//   - the run marker: runmarker.go, coordinator.markRun and coordinator.clearRun.
//   - cluster mode (Config.Cluster): cluster.go, coordinator.prepareQueue queues a ready
//     task (pending, inputs injected) instead of starting it; the claiming node starts
//     it (host/store/pgstore, Node.Claim) and claim.go, Engine.runClaim writes its
//     outcome (Driver.Finish, outcome.apply); the coordinator settles it from the
//     tree's feed (cluster.go, coordinator.onSettled). Expired claims go back to pending
//     (Node.SweepClaims), and a stopping node's too (Node.Release). A cancel of a queued
//     or claimed task: cancel.go, coordinator.cancelRemote; of a tree another node runs:
//     Engine.cancelElsewhere, through the tree's feed.
//
// Changes to tasks of a tree that is not running (a tasks.update, status included, and
// tasks.delete) go through edit.go, Engine.Update and Engine.Delete, under the lock that
// starts runs, so no run can start between their check and their write; while the tree
// runs they are refused. Update never makes a task in_progress (only a run starts a task)
// and never changes a link or an archived task; re-runs never reset or execute those
// either (graph.resetSet, coordinator.init). New tasks are created pending by host/submit and by
// Engine.Clone (clone.go).
package engine
