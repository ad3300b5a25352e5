// Command echo is the Go-SDK echo executor of the end-to-end benchmarks (make bench): its
// result is its input, so a task costs what the SDK and the host add around a call. Build
// (kits.mk, kits-go):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o echo_go.wasm ./examples/echo/go
package main

import (
	"encoding/json"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// main is required by the Go toolchain but never runs in a plugin.
func main() {}

func init() {
	apflow.Register(apflow.Executor[json.RawMessage, json.RawMessage]{
		ID:          "echo_go",
		Name:        "Echo (Go)",
		Description: "Returns its input.",
		Version:     "1.0.0",
		Tags:        []string{"benchmark"},
		Run:         func(_ *apflow.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil },
	})
}
