package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/apflow-wasm/apflow/host/llm"
)

// Codes of llm_complete error answers ({"error": message, "code": code}, docs/abi.md).
const (
	LLMCodeNotGranted     = "llm_not_granted"
	LLMCodeNotConfigured  = "llm_not_configured"
	LLMCodeBudget         = "llm_budget_exceeded"
	LLMCodeProvider       = "llm_provider_error"
	LLMCodeInvalidRequest = "invalid_request"
)

// llmError is a refused or failed llm_complete call: its code and message go to the guest.
type llmError struct {
	code, msg string
}

func (e *llmError) Error() string { return e.msg }

// hostLLMComplete is apflow.llm_complete(ptr, len) -> i64: it decodes an llm.Request,
// asks the runtime's Completer under the call's context (the caller's, bounded by the
// task's deadline and ended when the task is cancelled or the host closes) and answers
// the llm.Response, or {"error", "code"}. The tokens of each answer are added to the
// call's usage. When the call's context ends during the request, the call ends there
// (timed out or cancelled) and the guest does not resume.
func (r *Runtime) hostLLMComplete(ctx context.Context, mod api.Module, stack []uint64) {
	cs := callStateFrom(ctx)
	cs.hostCalls++
	resp, err := r.completeLLM(ctx, cs, mod, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if err != nil {
		stack[0] = cs.giveLLMError(ctx, mod, err)
		return
	}
	cs.llmIn += resp.Usage.InputTokens
	cs.llmOut += resp.Usage.OutputTokens
	out, merr := json.Marshal(resp)
	if merr != nil {
		stack[0] = cs.giveLLMError(ctx, mod, &llmError{LLMCodeProvider, "encoding the answer: " + merr.Error()})
		return
	}
	cs.logger.Debug("llm_complete", "model", resp.Model,
		"input_tokens", resp.Usage.InputTokens, "output_tokens", resp.Usage.OutputTokens)
	stack[0] = cs.give(ctx, mod, out)
}

// completeLLM checks the grant and the request and asks the Completer.
func (r *Runtime) completeLLM(ctx context.Context, cs *callState, mod api.Module, ptr, n uint32) (*llm.Response, *llmError) {
	doc, ok := guestBytes(mod, ptr, n)
	if !ok {
		return nil, &llmError{LLMCodeInvalidRequest, "request buffer is outside the plugin's memory"}
	}
	if !cs.grants.LLM {
		return nil, &llmError{LLMCodeNotGranted, cs.notGranted("llm")}
	}
	req, err := parseLLMRequest(doc)
	if err != nil {
		return nil, &llmError{LLMCodeInvalidRequest, err.Error()}
	}
	if r.cfg.LLM == nil {
		return nil, &llmError{LLMCodeNotConfigured, llm.ErrNotConfigured.Error()}
	}
	resp, err := r.cfg.LLM.Complete(ctx, *req)
	if err != nil {
		abortIfDone(ctx) // the task's deadline passed, it was cancelled or the host is closing
		return nil, &llmError{llmCode(err), err.Error()}
	}
	if resp == nil {
		return nil, &llmError{LLMCodeProvider, "the provider returned no answer"}
	}
	return resp, nil
}

// llmCode maps a Completer's error to its code; an error of no known kind is a
// provider error.
func llmCode(err error) string {
	switch {
	case errors.Is(err, llm.ErrNotConfigured):
		return LLMCodeNotConfigured
	case errors.Is(err, llm.ErrBudget):
		return LLMCodeBudget
	}
	return LLMCodeProvider
}

// parseLLMRequest decodes and checks a guest's request: an unknown field, no message,
// an unknown role or a negative max_tokens is refused.
func parseLLMRequest(doc []byte) (*llm.Request, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var req llm.Request
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("invalid request: %v", err)
	}
	if dec.More() {
		return nil, errors.New("invalid request: data after the JSON object")
	}
	if len(req.Messages) == 0 {
		return nil, errors.New("invalid request: messages is empty")
	}
	for i, m := range req.Messages {
		switch m.Role {
		case llm.RoleSystem, llm.RoleUser, llm.RoleAssistant:
		default:
			return nil, fmt.Errorf("invalid request: messages[%d].role %q is not system, user or assistant", i, m.Role)
		}
	}
	if req.MaxTokens < 0 {
		return nil, fmt.Errorf("invalid request: max_tokens %d is negative", req.MaxTokens)
	}
	return &req, nil
}

// giveLLMError hands {"error": msg, "code": code} to the guest and logs it.
func (cs *callState) giveLLMError(ctx context.Context, mod api.Module, e *llmError) uint64 {
	cs.logger.Warn("host call refused", "function", "llm_complete", "code", e.code, "error", e.msg)
	doc, _ := json.Marshal(map[string]string{"error": e.msg, "code": e.code})
	return cs.give(ctx, mod, doc)
}
