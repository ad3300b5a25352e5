package apflow_test

import (
	"fmt"
	"strings"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

func ExampleNewModule() {
	type In struct {
		Text string `json:"text" jsonschema:"required"`
	}
	type Out struct {
		Words int `json:"words"`
	}
	m, err := apflow.NewModule(apflow.Executor[In, Out]{
		ID: "word_count",
		Run: func(ctx *apflow.Context, in In) (Out, error) {
			if in.Text == "" {
				return Out{}, apflow.NewError("empty", "text is empty", nil)
			}
			return Out{Words: len(strings.Fields(in.Text))}, nil
		},
	}, nil)
	if err != nil {
		panic(err)
	}
	host := &apflowtest.Host{}
	fmt.Println(string(m.Execute(host, []byte(`{"text": "one two three"}`))))
	fmt.Println(string(m.Execute(host, []byte(`{"text": ""}`))))
	fmt.Println(string(m.InputSchema()))
	fmt.Println(string(m.MetadataJSON()))
	// Output:
	// {"words":3}
	// {"error":"text is empty","code":"empty"}
	// {"$schema":"https://json-schema.org/draft/2020-12/schema","properties":{"text":{"type":"string"}},"required":["text"],"type":"object"}
	// {"id":"word_count","kind":["executor"]}
}
