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

// PrepareFunc validates a submission (the raw JSON of a task array or one task) for
// owner and returns its tree, whose tasks are built when read (submit.Tree): the server
// stores it with store.CreateBatch, so that a large submission is not held whole as
// tasks. The tree is one submit.PrepareTree or submit.ValidateTree returned, with
// owner's users (Owner.DefaultUserID included); a nil tree with a nil error is a
// programming error. See [SubmitPrepare].
type PrepareFunc func(ctx context.Context, data []byte, owner Owner) (*submit.Tree, error)

// Owner is who a submission is created for.
type Owner struct {
	// UserID, when not empty, is stamped on every task, and a task naming another user
	// is refused (code Unauthorized).
	UserID string
	// DefaultUserID, when UserID is empty, is the user of a submission whose tasks name
	// none (an administrator's own submission).
	DefaultUserID string
	// Namespace, when not zero, qualifies every id of the submission
	// (submit.Options.Namespace).
	Namespace task.Namespace
}

// SubmitPrepare returns the PrepareFunc of the server: submit.PrepareTree with the
// catalog (executor existence and input schemas) and the store (id collisions).
// taskSchemas compiles tasks' own schemas.input_schema (submit.Options.TaskSchemas; nil:
// a cache per submission); pass the engine's so each distinct schema compiles once per
// process. maxBytes is the largest submission (submit.Options.MaxBytes; 0: its
// default); give the server's Config.MaxBodyBytes when it is larger, so that a body the
// server accepts is not refused again by the size of the tree it holds.
func SubmitPrepare(cat executor.Catalog, st store.Store, now func() time.Time, taskSchemas *schema.Cache, maxBytes int) PrepareFunc {
	return func(ctx context.Context, data []byte, owner Owner) (*submit.Tree, error) {
		return submit.PrepareTree(ctx, data, submit.Options{Catalog: cat, Exists: submit.ExistsIn(st), TreeExists: submit.TreeExistsIn(st),
			UserID: owner.UserID, DefaultUserID: owner.DefaultUserID, Namespace: owner.Namespace, Now: now,
			TaskSchemas: taskSchemas, MaxBytes: maxBytes})
	}
}
