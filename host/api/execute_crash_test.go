package api

import (
	"context"
	"errors"
	"testing"

	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// diesBeforeStart is an engine whose Start fails: a process killed between a
// submission's create and its run's first commit.
type diesBeforeStart struct{ Engine }

func (diesBeforeStart) Start(context.Context, string, engine.RunOptions) (*engine.Run, error) {
	return nil, errors.New("the process died")
}

// TestExecuteInlineTreeOutlivesItsProcess: tasks.execute of inline tasks stores the tree
// with its run's marker, so a tree whose process dies before the run's first commit is
// run by the next start-up (Recover).
func TestExecuteInlineTreeOutlivesItsProcess(t *testing.T) {
	t.Parallel()
	var st store.Store
	e := setup(t, setupOpts{mutate: func(c *Config) {
		st = c.Store
		c.Engine = diesBeforeStart{c.Engine}
	}})
	if r := e.rpc(t, "", "tasks.execute", map[string]any{"tasks": tree("dies")}); r.Error == nil {
		t.Fatal("tasks.execute answered without its run starting")
	}
	ctx := context.Background()
	root, err := st.Get(ctx, "dies-root")
	if err != nil || root.Run == nil || root.Status != task.Pending {
		t.Fatalf("stored root: %v, %+v; want pending with its run's marker", err, root)
	}
	if err := e.eng.Recover(ctx); err != nil { // the next process's start-up
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		r, err := st.Get(ctx, "dies-root")
		return err == nil && r.Status == task.Completed && r.Run == nil
	})
}
