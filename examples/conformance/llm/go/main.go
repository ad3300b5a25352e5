// Command llm_go is the llm conformance plugin, Go edition (examples/conformance/llm_test.go).
package main

import (
	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// In are the inputs.
type In struct {
	Prompt string `json:"prompt" jsonschema:"required"`
}

// Out is the result.
type Out struct {
	Content      string `json:"content"`
	Model        string `json:"model"`
	StopReason   string `json:"stop_reason"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID: "llm_go", Name: "LLM (go)", Version: "1.0.0", Capabilities: []string{"llm"},
		Run: run,
	})
}

// run asks the completion of examples/conformance/README.md ("llm"); a refused call ends
// the task with the host's code.
func run(ctx *apflow.Context, in In) (Out, error) {
	temp := 0.5
	resp, err := ctx.LLM(apflow.LLMRequest{
		Messages:  []apflow.LLMMessage{{Role: "system", Content: "conformance"}, {Role: "user", Content: in.Prompt}},
		MaxTokens: 16, Temperature: &temp, JSON: true,
	})
	if err != nil {
		return Out{}, err
	}
	return Out{Content: resp.Content, Model: resp.Model, StopReason: resp.StopReason,
		InputTokens: resp.Usage.InputTokens, OutputTokens: resp.Usage.OutputTokens}, nil
}
