// Command sleep_go is the sleep conformance plugin, Go edition
// (examples/conformance/sleep_test.go).
package main

import (
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the inputs.
type In struct {
	MS int64 `json:"ms" jsonschema:"required"`
}

// Out is the result.
type Out struct {
	Slept bool `json:"slept"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID: "sleep_go", Name: "Sleep (go)", Version: "1.0.0", Capabilities: []string{"clock"},
		// Sleeps in.MS milliseconds; {"slept":true}, or the sleep's error and code.
		Run: func(ctx *apflow.Context, in In) (Out, error) {
			if err := ctx.Sleep(time.Duration(in.MS) * time.Millisecond); err != nil {
				return Out{}, err
			}
			return Out{Slept: true}, nil
		},
	})
}
