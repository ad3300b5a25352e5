package api

import (
	"context"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
)

// SubmitPrepare returns the PrepareFunc of the server: submit.Prepare with the catalog
// (executor existence and input schemas) and the store (id collisions).
func SubmitPrepare(cat executor.Catalog, st store.Store, now func() time.Time) PrepareFunc {
	exists := func(ctx context.Context, id string) (bool, error) {
		_, err := st.Get(ctx, id)
		if err == nil {
			return true, nil
		}
		if apferr.CodeOf(err) == apferr.TaskNotFound {
			return false, nil
		}
		return false, err
	}
	treeExists := func(ctx context.Context, treeID string) (bool, error) {
		n, err := st.Count(ctx, store.Filter{TreeID: treeID})
		return n > 0, err
	}
	return func(ctx context.Context, data []byte, userID string) ([]*task.Task, error) {
		return submit.Prepare(ctx, data, submit.Options{Catalog: cat, Exists: exists, TreeExists: treeExists, UserID: userID, Now: now})
	}
}

func newID() string { return submit.NewUUID() }
