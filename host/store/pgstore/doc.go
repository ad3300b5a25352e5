// Package pgstore is the task store on PostgreSQL: an implementation of store.Store that
// several apflow processes (nodes) can share, on github.com/jackc/pgx/v5.
//
// Guarantees, beyond those of package store:
//   - Durability is the server's: with PostgreSQL's defaults (fsync, synchronous_commit
//     on) a nil error means the change is flushed to the server's WAL.
//   - Every status change is checked with task.CheckTransition against the row as
//     locked (SELECT … FOR UPDATE) in the transaction that writes it, so the check holds
//     against every writer of the database, other nodes included: of two nodes racing to
//     move a task, the second sees the first's result.
//   - Group commit: Update and UpdateMany calls go through one committer goroutine per
//     Store that runs every call queued at that moment in one transaction (one WAL
//     flush), each call's failure failing only that call (committer.go).
//   - Create copies a whole submission, of any size, into the tables (COPY) in one
//     transaction: all of it becomes visible at once, or none.
//   - Open migrates the schema (below) and refuses, with an error matching
//     ErrSchemaTooNew, a database that a newer apflow has migrated further.
//
// Schema (migrations/*.sql; SchemaVersion is the newest). apflow_tasks holds one row per
// task: its wire form (task.Task's JSON, in a json column, which keeps the text as
// written) and copies of the fields the store filters and orders on (parent_id, tree_id,
// user_id, status, priority, seq, created_at, run_active for a root carrying a run
// marker, and next_run_at, schedule_type and schedule_enabled), written in the same
// statement. apflow_task_dependencies holds one row per
// (dependency id, dependent id), for Dependents and Delete's check. Every query of the
// store is served by an index: newest first over all tasks, roots, a status or a user;
// a tree in submission order; children in execution order; dependents; roots with a
// run in progress; armed schedules by next run and scheduled tasks by next run
// (store.Schedules, migrations/0008_schedules.sql). A filter on creation time walks
// the created_at order of those indexes; one on executor or name (store.Filter.Method,
// Name) reads body of each row the other conditions leave. The cluster's tables are described in migrations/0002_cluster.sql;
// the shared plugins (apflow_plugin_blobs: modules by sha256, written once;
// apflow_plugins: each id's current sha256 or its tombstone, with who changed it and
// when) in migrations/*_plugins.sql and at Store.PutPlugin; the idempotency keys
// (apflow_idempotency_keys: store.Keys, one row per scope and key, inserted in the
// transaction that creates the tree it names) in migrations/*_idempotency.sql.
//
// Migrations. Each file migrations/NNNN_<what>.sql takes the schema one version up.
// Open applies the missing ones in one transaction holding pg_advisory_xact_lock, and
// records each in apflow_schema_version, so nodes starting at once on a new database
// apply each migration once, and a crash mid-migration leaves the previous version.
// Later versions add to the schema; a migration is never edited once released.
//
// The tables live in the connection's search_path (set search_path in the connection
// string to give apflow a schema of its own).
package pgstore
