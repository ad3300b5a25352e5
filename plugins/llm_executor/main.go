// Command llm_executor is the llm_executor: one completion of the operator's language
// model through the host's llm capability. Messages go in; the model's answer, the model
// that answered, why it stopped and the tokens it used come out.
//
// The provider, its key and the token budgets are the operator's: the plugin only builds
// the request and never sees a key. The tokens are also counted in the task's usage
// (llm_input_tokens, llm_output_tokens).
package main

import (
	"encoding/json"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// Message is one message of the conversation.
type Message struct {
	Role    string `json:"role" jsonschema:"required,enum=system|user|assistant"`
	Content string `json:"content" jsonschema:"required"`
}

// In are the executor's inputs.
type In struct {
	Messages    []Message `json:"messages" jsonschema:"required,minItems=1" description:"The conversation, oldest first."`
	System      string    `json:"system,omitempty" description:"A system message put before the messages."`
	MaxTokens   int       `json:"max_tokens,omitempty" jsonschema:"minimum=1" description:"Bounds the answer (default: the provider's)."`
	Temperature *float64  `json:"temperature,omitempty" jsonschema:"minimum=0,maximum=2" description:"Sampling temperature (default: the provider's)."`
	JSON        bool      `json:"json,omitempty" description:"Ask for a JSON object as the answer; it is then also returned decoded in json."`
}

// Usage counts the tokens of the completion.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// Out is the executor's result.
type Out struct {
	Content    string `json:"content" description:"The model's answer."`
	JSON       any    `json:"json,omitempty" description:"With json set: the answer, decoded."`
	Model      string `json:"model" description:"The model that answered."`
	StopReason string `json:"stop_reason,omitempty" description:"Why the model stopped, as the provider said."`
	Usage      Usage  `json:"usage"`
}

func main() {}

func init() {
	apflow.Register(apflow.Executor[In, Out]{
		ID:           "llm_executor",
		Name:         "LLM completion",
		Description:  "Asks the operator's language model (llm grant required): messages in, the answer and its token usage out.",
		Version:      "1.0.0",
		Tags:         []string{"llm"},
		Capabilities: []string{"llm"},
		Run:          run,
	})
}

func run(ctx *apflow.Context, in In) (Out, error) {
	req := apflow.LLMRequest{MaxTokens: in.MaxTokens, Temperature: in.Temperature, JSON: in.JSON}
	if in.System != "" {
		req.Messages = append(req.Messages, apflow.LLMMessage{Role: "system", Content: in.System})
	}
	for _, m := range in.Messages {
		req.Messages = append(req.Messages, apflow.LLMMessage{Role: m.Role, Content: m.Content})
	}
	resp, err := ctx.LLM(req)
	if err != nil {
		return Out{}, err
	}
	out := Out{
		Content: resp.Content, Model: resp.Model, StopReason: resp.StopReason,
		Usage: Usage{InputTokens: resp.Usage.InputTokens, OutputTokens: resp.Usage.OutputTokens},
	}
	if in.JSON {
		if err := json.Unmarshal([]byte(resp.Content), &out.JSON); err != nil {
			return Out{}, apflow.NewError("llm_invalid_json", "the model's answer is not JSON: "+err.Error(),
				map[string]any{"content": truncate(resp.Content, 2048), "model": resp.Model})
		}
	}
	ctx.Log.Debug("completion", "model", resp.Model, "input_tokens", resp.Usage.InputTokens, "output_tokens", resp.Usage.OutputTokens)
	return out, nil
}

// truncate cuts s to at most n bytes for an error's details.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
