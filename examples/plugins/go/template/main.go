// Command template is a copyable starting point for an apflow executor written in Go.
// Copy this directory, rename the executor ID, edit In, Out and run, and build with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o my_executor.wasm .
package main

import (
	"strings"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the executor's inputs. Tags shape the input schema the host validates against:
// json names the field, jsonschema adds constraints, description documents it.
type In struct {
	Text   string `json:"text" jsonschema:"required" description:"The text to process."`
	Repeat int    `json:"repeat,omitempty" jsonschema:"minimum=1,maximum=10,default=1"`
}

// Out is the executor's result. Its schema is the output schema dependency injection uses.
type Out struct {
	Text string `json:"text"`
}

// main is required by the Go toolchain but never runs in a plugin.
func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:          "my_executor",
		Name:        "My executor",
		Description: "Repeats a text.",
		Version:     "0.1.0",
		Run:         run,
	})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	if strings.TrimSpace(in.Text) == "" {
		return Out{}, apflow.NewError("empty_text", "text is blank", map[string]any{"field": "text"})
	}
	n := max(in.Repeat, 1)
	ctx.Log.Debug("repeating", "times", n)
	return Out{Text: strings.Repeat(in.Text, n)}, nil
}
