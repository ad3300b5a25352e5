package main

import (
	"reflect"
	"testing"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// setup returns a harness whose fake host answers every completion with content.
func setup(t *testing.T, content string) *apflowtest.Harness {
	t.Helper()
	h := apflowtest.New(t)
	h.Host.LLM = func(apflow.LLMRequest) (apflow.LLMResponse, error) {
		return apflow.LLMResponse{Content: content, Model: "fake-1", StopReason: "end_turn",
			Usage: apflow.LLMUsage{InputTokens: 9, OutputTokens: 2}}, nil
	}
	return h
}

func TestLLMExecutor(t *testing.T) {
	t.Parallel()
	h := setup(t, "hello")
	res := h.Execute(map[string]any{
		"system":     "be brief",
		"messages":   []map[string]any{{"role": "user", "content": "hi"}},
		"max_tokens": 20, "temperature": 0.3,
	})
	var out Out
	if err := res.Decode(&out); err != nil || res.Failed() {
		t.Fatalf("result %s: %v", res, err)
	}
	want := Out{Content: "hello", Model: "fake-1", StopReason: "end_turn", Usage: Usage{InputTokens: 9, OutputTokens: 2}}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("out = %+v, want %+v", out, want)
	}
	reqs := h.Host.LLMRequests()
	temp := 0.3
	wantReq := apflow.LLMRequest{Messages: []apflow.LLMMessage{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}},
		MaxTokens: 20, Temperature: &temp}
	if len(reqs) != 1 || !reflect.DeepEqual(reqs[0], wantReq) {
		t.Fatalf("requests = %+v, want %+v", reqs, wantReq)
	}
}

func TestLLMExecutorJSON(t *testing.T) {
	t.Parallel()
	h := setup(t, `{"answer": 42}`)
	res := h.Execute(map[string]any{"messages": []map[string]any{{"role": "user", "content": "q"}}, "json": true})
	var out Out
	if err := res.Decode(&out); err != nil || res.Failed() {
		t.Fatalf("result %s: %v", res, err)
	}
	if !reflect.DeepEqual(out.JSON, map[string]any{"answer": 42.0}) || !h.Host.LLMRequests()[0].JSON {
		t.Fatalf("out = %+v, requests %+v", out, h.Host.LLMRequests())
	}
	bad := setup(t, "not json")
	res = bad.Execute(map[string]any{"messages": []map[string]any{{"role": "user", "content": "q"}}, "json": true})
	if res.Code() != "llm_invalid_json" {
		t.Fatalf("a non-JSON answer with json set = %s, want code llm_invalid_json", res)
	}
}

func TestLLMExecutorErrors(t *testing.T) {
	t.Parallel()
	h := apflowtest.New(t) // no LLM: not granted
	res := h.Execute(map[string]any{"messages": []map[string]any{{"role": "user", "content": "q"}}})
	if res.Code() != apflow.CodeLLMNotGranted {
		t.Fatalf("without the grant = %s", res)
	}
	h.Host.LLM = func(apflow.LLMRequest) (apflow.LLMResponse, error) {
		return apflow.LLMResponse{}, apflow.NewError(apflow.CodeLLMBudget, "task budget spent", nil)
	}
	res = h.Execute(map[string]any{"messages": []map[string]any{{"role": "user", "content": "q"}}})
	if res.Code() != apflow.CodeLLMBudget {
		t.Fatalf("over budget = %s", res)
	}
	for _, in := range []map[string]any{
		{},
		{"messages": []map[string]any{}},
		{"messages": []map[string]any{{"role": "tool", "content": "q"}}},
		{"messages": []map[string]any{{"role": "user", "content": "q"}}, "max_tokens": 0},
		{"messages": []map[string]any{{"role": "user", "content": "q"}}, "temperature": 3},
	} {
		if err := h.ValidateInputs(in); err == nil {
			t.Errorf("inputs %v pass the input schema", in)
		}
	}
}
