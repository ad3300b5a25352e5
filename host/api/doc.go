// Package api is the apflow HTTP API served by `apflow serve`, on Echo: native JSON-RPC
// 2.0 on POST /tasks and POST /system, method discovery, Server-Sent Events, webhook
// callbacks, plugin upload, the A2A basics (agent card, message/send), health and
// Prometheus metrics, and optional HS256 bearer authentication.
//
// Guarantees:
//   - Wire shapes follow the Python apflow reference; errors use the protocol's codes
//     (-32001..-32012, data naming the task and field) with HTTP 200, except 401 for
//     authentication and 413 for bodies over the limit. Every method's params are
//     validated against the JSON Schema published at GET /tasks/methods (schemas/api).
//   - With a JWT secret, every route needs a valid token (fail closed). A user sees and
//     acts on their own tasks only; another user's task id answers "not found". The
//     admin role sees everything.
//   - With a JWT secret, a non-admin's task ids are owner-qualified (docs/decisions.md
//     §12): every task id the caller gives is put in the caller's namespace
//     (task.Namespace.Qualify) before anything is looked up or stored, and generated ids
//     are too, so a user can only ever name (and collide with) their own ids: no answer
//     tells whether another user's id exists.
//   - tasks.execute returns the real root id and, unless streaming, the final status.
//   - An idempotency_key (tasks.create, tasks.execute with inline tasks; Config.Keys)
//     makes a repeat with the same content answer the first tree and run, creating and
//     running nothing; other content is refused naming idempotency_key. Keys are per
//     user (docs/api.md "Idempotency keys", docs/decisions.md §14).
//   - Shutdown stops accepting connections, ends streams with a final frame, lets
//     in-flight requests and webhook deliveries finish; runs continue in the engine.
//
// The server consumes small interfaces ([Engine]: the methods of *engine.Engine it calls,
// with the engine's own types; [Plugins], [PrepareFunc], store.Store, store.Keys,
// executor.Catalog);
// [SubmitPrepare] adapts the submission validator.
package api
