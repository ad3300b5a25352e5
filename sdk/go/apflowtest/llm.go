package apflowtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
)

// LLMComplete serves llm_complete as the host does (docs/abi.md): without LLM it refuses
// with code llm_not_granted; it refuses a request that is not a valid llm_complete
// request (invalid_request); otherwise it records the request and answers what LLM
// returns. An error of LLM that is an *apflow.Error keeps its code (say
// apflow.CodeLLMBudget); any other error answers llm_provider_error.
func (h *Host) LLMComplete(raw []byte) []byte {
	h.mu.Lock()
	fn := h.LLM
	h.mu.Unlock()
	if fn == nil {
		return llmErrorDoc(apflow.CodeLLMNotGranted, "capability llm is not granted to this plugin")
	}
	req, err := decodeLLMRequest(raw)
	if err != nil {
		return llmErrorDoc(apflow.CodeLLMInvalidRequest, err.Error())
	}
	h.mu.Lock()
	h.llmRequests = append(h.llmRequests, req)
	h.mu.Unlock()
	resp, err := fn(req)
	if err != nil {
		var ae *apflow.Error
		if errors.As(err, &ae) && ae.Code != "" {
			return llmErrorDoc(ae.Code, ae.Message)
		}
		return llmErrorDoc(apflow.CodeLLMProvider, err.Error())
	}
	b, _ := json.Marshal(resp)
	return b
}

// LLMRequests returns the llm_complete requests the fake served, in order.
func (h *Host) LLMRequests() []apflow.LLMRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]apflow.LLMRequest(nil), h.llmRequests...)
}

// decodeLLMRequest checks a request as the host does: known fields only, at least one
// message, known roles, max_tokens not negative.
func decodeLLMRequest(raw []byte) (apflow.LLMRequest, error) {
	var req apflow.LLMRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("invalid request: %v", err)
	}
	if len(req.Messages) == 0 {
		return req, errors.New("invalid request: messages is empty")
	}
	for i, m := range req.Messages {
		if m.Role != "system" && m.Role != "user" && m.Role != "assistant" {
			return req, fmt.Errorf("invalid request: messages[%d].role %q is not system, user or assistant", i, m.Role)
		}
	}
	if req.MaxTokens < 0 {
		return req, fmt.Errorf("invalid request: max_tokens %d is negative", req.MaxTokens)
	}
	return req, nil
}

func llmErrorDoc(code, msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg, "code": code})
	return b
}
