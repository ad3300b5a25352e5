package hooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/hooks"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// The repository answers the store_call requests of hooks granted `repository`.
func ExampleRepository_Call() {
	st := memstore.New()
	defer st.Close()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	_ = st.Create(context.Background(), []*task.Task{{ID: "t1", TaskTreeID: "t1", Name: "t1",
		Status: task.Pending, Priority: 2, CreatedAt: now, UpdatedAt: now}})
	repo := hooks.NewRepository(st, func() time.Time { return now })

	for _, req := range []string{
		`{"op":"count_tasks","status":"pending"}`,
		`{"op":"update_task","id":"t1","fields":{"priority":9}}`,
		`{"op":"update_task","id":"t1","fields":{"inputs":{}}}`,
	} {
		out, err := repo.Call(context.Background(), json.RawMessage(req))
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(string(out))
	}
	// Output:
	// {"count":1}
	// error: update_task t1: field "priority": must be an integer 0..3, got 9
	// error: update_task t1: field "inputs": cannot be updated by a hook: inputs change only through a pre-hook's result {"inputs": …}, which the host persists
}
