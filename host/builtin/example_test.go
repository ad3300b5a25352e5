package builtin_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// The aggregator returns the injected dependency results under their ids.
func Example() {
	h, err := builtin.Catalog().Lookup(builtin.AggregateResultsID)
	if err != nil {
		panic(err)
	}
	defer h.Release()
	resp, err := h.Execute(context.Background(), &executor.Request{
		Task:   &task.Task{ID: "root"},
		Inputs: json.RawMessage(`{"fetch":{"bytes":42},"parse":"ok"}`),
	})
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Output, &out); err != nil {
		panic(err)
	}
	fmt.Println(out["summary"])
	fmt.Println(out["result_count"], out["results"])
	// Output:
	// Aggregated 2 task results. from: fetch, parse
	// 2 map[fetch:map[bytes:42] parse:ok]
}
