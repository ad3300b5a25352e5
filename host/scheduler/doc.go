// Package scheduler runs scheduled tasks: it polls the store for enabled schedules whose
// next_run_at has come (store.Schedules.Due), claims each occurrence with one atomic
// store write, and starts a full re-run of the task's tree through the engine
// (engine.Start with RunOptions{Full: true}: every task of the tree is reset and runs
// again; no stale result is kept). docs/schedules.md is the user's description;
// docs/decisions.md §16 says why it works this way.
//
// Guarantees:
//   - At most once per occurrence. A fire is claimed by a store.Update of the scheduled
//     task whose function refuses unless next_run_at is still the time seen as due, and
//     which in the same write advances next_run_at (schedule.NextRun from the fire
//     time), sets last_run_at, counts run_count and disables a once or exhausted
//     schedule. Of two schedulers (two goroutines on one store, or two apflow serve
//     nodes on one PostgreSQL, whose Update locks the row) exactly one claims a given
//     occurrence; the other sees next_run_at moved and does nothing.
//   - The claim changes only schedule fields, through the store's read-modify-write,
//     so it never loses a concurrent write of the engine (whose writes are store
//     mutations too) to the same task.
//   - Missed occurrences (found later than Config.MissedAfter, after downtime) follow
//     the task's policy (schedule.Policy): skip (default) advances to the next future
//     occurrence without running; run_once runs once now. Either way one claim
//     replaces every missed occurrence: there is no catch-up burst.
//   - An occurrence that comes due while the tree is running follows the overlap
//     policy: skip (default) advances without running, wait leaves it due until the
//     run ends. Skips are logged (warn) and counted in Stats.
//   - Polling is the truth: Wake only shortens the wait for the next poll.
//
// Pitfalls:
//   - At most once, not at least once: a crash (or a failed engine start) between the
//     claim's commit and the start of the run loses that occurrence. The claim is
//     durable, so the loss is visible: last_run_at and run_count moved while the tree's
//     tasks show no run at that time, and a failed start is logged as an error. Making
//     claim and start one durable step would need the engine's run marker in the
//     claim's write; running an occurrence twice is worse for most scheduled work.
//   - A schedule on a task that is not a root runs that task's part of the tree
//     (engine.RunOptions.TaskID semantics), as tasks.execute of that task would.
//   - Times are the scheduler's clock (Config.Now): nodes of a cluster should keep
//     their clocks in sync; a node whose clock runs ahead fires early.
package scheduler
