// Command greeting is the Go SDK's example executor: it greets people, reading an optional
// salutation from the plugin's config grant, logging, reporting progress and failing with
// a structured error on bad input.
package main

import (
	"fmt"
	"strings"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the inputs; the input schema is derived from the struct tags.
type In struct {
	Names  []string `json:"names" jsonschema:"required,minItems=1" description:"Who to greet."`
	Shout  bool     `json:"shout,omitempty" description:"Greet in capitals."`
	Suffix string   `json:"suffix,omitempty" jsonschema:"enum=!|.|?,default=!"`
}

// Out is the result; the output schema is derived from it.
type Out struct {
	Greetings []string `json:"greetings"`
	Count     int      `json:"count"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:           "greeting",
		Name:         "Greeting",
		Description:  "Greets each name; the salutation comes from the config key greeting.salutation (default Hello).",
		Version:      "1.0.0",
		Tags:         []string{"example"},
		Capabilities: []string{"config"},
		Run:          run,
	})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	salutation, ok := ctx.Config("greeting.salutation")
	if !ok {
		salutation = "Hello"
	}
	suffix := in.Suffix
	if suffix == "" {
		suffix = "!"
	}
	out := Out{Greetings: make([]string, 0, len(in.Names))}
	for i, name := range in.Names {
		name = strings.TrimSpace(name)
		if name == "" {
			return Out{}, apflow.NewError("empty_name", fmt.Sprintf("names[%d] is empty", i), map[string]any{"field": "names", "index": i})
		}
		g := fmt.Sprintf("%s, %s%s", salutation, name, suffix)
		if in.Shout {
			g = strings.ToUpper(g)
		}
		out.Greetings = append(out.Greetings, g)
		ctx.Progress(float64(i+1) / float64(len(in.Names)))
	}
	out.Count = len(out.Greetings)
	ctx.Log.Info("greeted", "count", out.Count)
	return out, nil
}
