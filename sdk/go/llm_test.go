package apflow_test

import (
	"errors"
	"testing"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// TestLLM checks Context.LLM against the fake host: the request reaches the host as
// given, the answer comes back, and refusals are *Error values with the host's code.
func TestLLM(t *testing.T) {
	t.Parallel()
	temp := 0.2
	req := apflow.LLMRequest{Messages: []apflow.LLMMessage{{Role: "user", Content: "hi"}}, MaxTokens: 20, Temperature: &temp, JSON: true}
	answer := apflow.LLMResponse{Content: "hello", Model: "fake-1", StopReason: "end_turn",
		Usage: apflow.LLMUsage{InputTokens: 5, OutputTokens: 1}}
	for _, c := range []struct {
		name string
		llm  func(apflow.LLMRequest) (apflow.LLMResponse, error)
		req  apflow.LLMRequest
		code string // "" for an answer
	}{
		{name: "answer", llm: func(apflow.LLMRequest) (apflow.LLMResponse, error) { return answer, nil }, req: req},
		{name: "not granted", req: req, code: apflow.CodeLLMNotGranted},
		{name: "budget", llm: func(apflow.LLMRequest) (apflow.LLMResponse, error) {
			return apflow.LLMResponse{}, apflow.NewError(apflow.CodeLLMBudget, "task budget spent", nil)
		}, req: req, code: apflow.CodeLLMBudget},
		{name: "provider", llm: func(apflow.LLMRequest) (apflow.LLMResponse, error) {
			return apflow.LLMResponse{}, errors.New("HTTP 500")
		}, req: req, code: apflow.CodeLLMProvider},
		{name: "no message", llm: func(apflow.LLMRequest) (apflow.LLMResponse, error) { return answer, nil },
			code: apflow.CodeLLMInvalidRequest},
		{name: "bad role", llm: func(apflow.LLMRequest) (apflow.LLMResponse, error) { return answer, nil },
			req: apflow.LLMRequest{Messages: []apflow.LLMMessage{{Role: "tool"}}}, code: apflow.CodeLLMInvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &apflowtest.Host{LLM: c.llm}
			got, err := apflow.NewContext(h).LLM(c.req)
			if c.code != "" {
				var e *apflow.Error
				if !errors.As(err, &e) || e.Code != c.code {
					t.Fatalf("error %v, want an *apflow.Error with code %s", err, c.code)
				}
				return
			}
			if err != nil || *got != answer {
				t.Fatalf("LLM = %+v, %v, want %+v", got, err, answer)
			}
			reqs := h.LLMRequests()
			if len(reqs) != 1 || reqs[0].MaxTokens != 20 || *reqs[0].Temperature != temp || !reqs[0].JSON || reqs[0].Messages[0] != req.Messages[0] {
				t.Fatalf("requests = %+v, want %+v", reqs, req)
			}
		})
	}
}
