package engine_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// A root aggregator with two children: the children run first, the root aggregates.
func Example() {
	st := memstore.New() // badgerstore.Open for state that outlives the process
	defer st.Close()
	e, err := engine.New(engine.Config{Store: st, Catalog: builtin.Catalog()})
	if err != nil {
		panic(err)
	}
	defer e.Close(context.Background())

	now := time.Now()
	agg := map[string]any{"method": builtin.AggregateResultsID}
	tasks := []*task.Task{
		{ID: "root", TaskTreeID: "root", Name: "root", Status: task.Pending, Schemas: agg, CreatedAt: now,
			Dependencies: []task.Dependency{{ID: "a", Required: true}, {ID: "b", Required: true}}},
		{ID: "a", ParentID: "root", TaskTreeID: "root", Name: "a", Status: task.Pending, Schemas: agg, Seq: 1, CreatedAt: now},
		{ID: "b", ParentID: "root", TaskTreeID: "root", Name: "b", Status: task.Pending, Schemas: agg, Seq: 2, CreatedAt: now},
	}
	if err := st.Create(context.Background(), tasks); err != nil {
		panic(err)
	}
	res, err := e.Execute(context.Background(), "root", engine.RunOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Counts[task.Completed])
	fmt.Println(res.Root.Result.(map[string]any)["summary"])
	// Output:
	// completed 3
	// Aggregated 2 task results. from: a, b
}
