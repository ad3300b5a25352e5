package api

import (
	"context"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
)

// PrepareFunc validates a submission (the raw JSON of a task array or one task) and
// returns its tasks ready to store. userID, when not empty, is stamped on every task and
// a task naming another user is refused (code Unauthorized). ns, when not zero, qualifies
// every id of the submission (submit.Options.Namespace). See [SubmitPrepare].
type PrepareFunc func(ctx context.Context, data []byte, userID string, ns task.Namespace) ([]*task.Task, error)

// SubmitPrepare returns the PrepareFunc of the server: submit.Prepare with the catalog
// (executor existence and input schemas) and the store (id collisions). taskSchemas
// compiles tasks' own schemas.input_schema (submit.Options.TaskSchemas; nil: a cache per
// submission); pass the engine's so each distinct schema compiles once per process.
// maxBytes is the largest submission (submit.Options.MaxBytes; 0: its default); give
// the server's Config.MaxBodyBytes when it is larger, so that a body the server accepts
// is not refused again by the size of the tree it holds.
func SubmitPrepare(cat executor.Catalog, st store.Store, now func() time.Time, taskSchemas *schema.Cache, maxBytes int) PrepareFunc {
	return func(ctx context.Context, data []byte, userID string, ns task.Namespace) ([]*task.Task, error) {
		return submit.Prepare(ctx, data, submit.Options{Catalog: cat, Exists: submit.ExistsIn(st), TreeExists: submit.TreeExistsIn(st),
			UserID: userID, Namespace: ns, Now: now, TaskSchemas: taskSchemas, MaxBytes: maxBytes})
	}
}
