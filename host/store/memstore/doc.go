// Package memstore is a task store held in memory: an implementation of store.Store
// for tests that do not test a durable backend, and for runs whose state need not
// outlive the process (`apflow run --ephemeral`).
//
// What it does not give: durability. Everything is lost at Close or when the process
// ends, and a nil error means only that the change is visible to later reads. Use
// badgerstore wherever state must survive a restart or a crash.
//
// What it gives is every guarantee of package store, with the observable behaviour of
// badgerstore:
//   - Reads return tasks as their wire form decodes (task.Task's JSON: times in UTC at
//     microsecond precision, numbers as json.Number, null inputs and dependencies as
//     empty), because every write stores the decoding of the task's encoding; a task that
//     cannot be encoded is refused as badgerstore refuses it.
//   - Writes go through the checks of package store (store.CheckNew, store.Step), so the
//     same writes are refused with the same errors, and status changes are checked with
//     task.CheckTransition.
//   - Orders: List newest first (created_at at microsecond precision, then seq,
//     descending, then id); Children by priority, seq, id; Tree and Dependents by seq,
//     then id. Filters use secondary indexes (status, user, tree, parent, dependency,
//     roots, scheduled tasks) kept in the same critical section as the tasks; executor,
//     name and creation time are checked on each task the index leaves. Due and
//     Scheduled (store.Schedules) sort the scheduled tasks on each call: O(k log k) for k
//     scheduled tasks.
//   - Reads and results are deep copies; the store never keeps a task a caller or an
//     update function holds.
//
// Concurrency. Writes are serialized: one at a time runs its checks and the update
// functions of its caller, against the state left by the writes before it, then
// publishes its changes at once. Reads never wait for an update function: they see the
// state before or after each write, never part of one. A write still waiting for its
// turn when its context ends returns ctx.Err() and changes nothing; once its turn has
// come it completes. An update function that calls a write method of the same store
// deadlocks (it waits for its own turn), as with badgerstore; reads from it are fine and
// see the state before the write.
//
// Close waits for the operations already started, then refuses every call with
// store.ErrClosed and frees the tasks.
package memstore
