package apflow

import (
	"encoding/json"
	"fmt"
)

// Codes of the errors [Context.LLM] returns: the host's llm_complete codes (docs/abi.md).
const (
	// CodeLLMNotGranted: the plugin lacks the llm grant.
	CodeLLMNotGranted = "llm_not_granted"
	// CodeLLMNotConfigured: the operator configured no language model provider.
	CodeLLMNotConfigured = "llm_not_configured"
	// CodeLLMBudget: the call would exceed a token budget (the task's or the user's).
	CodeLLMBudget = "llm_budget_exceeded"
	// CodeLLMProvider: the provider refused or failed the request.
	CodeLLMProvider = "llm_provider_error"
	// CodeLLMInvalidRequest: the host refused the request (no message, an unknown role, a
	// negative max_tokens).
	CodeLLMInvalidRequest = "invalid_request"
)

// LLMMessage is one message of a conversation; Role is "system", "user" or "assistant".
type LLMMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// LLMRequest is a completion asked of the operator's language model through the
// llm_complete host function (capability "llm").
type LLMRequest struct {
	Messages []LLMMessage `json:"messages"`
	// MaxTokens bounds the answer; 0 takes the provider's configured default.
	MaxTokens int `json:"max_tokens,omitempty"`
	// Temperature, when set, overrides the provider's default.
	Temperature *float64 `json:"temperature,omitempty"`
	// JSON asks for a JSON object as the answer, where the provider can enforce it.
	JSON bool `json:"json,omitempty"`
}

// LLMUsage counts the tokens of one completion, as the provider reported them.
type LLMUsage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// LLMResponse is the model's answer.
type LLMResponse struct {
	Content    string   `json:"content"`
	Model      string   `json:"model"`
	StopReason string   `json:"stop_reason,omitempty"`
	Usage      LLMUsage `json:"usage"`
}

// LLM asks the operator's language model (capability "llm"); the provider's keys stay in
// the host, and the tokens are counted in the task's usage. A refused or failed request
// is an *Error whose code is one of the CodeLLM… constants, carrying the host's message.
// When the task is cancelled or its deadline passes during the request, the call ends
// there and LLM does not return.
func (c *Context) LLM(req LLMRequest) (*LLMResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode llm request: %w", err)
	}
	raw := c.host.LLMComplete(body)
	if len(raw) == 0 {
		return nil, NewError(CodeLLMProvider, "llm_complete returned nothing", nil)
	}
	var out struct {
		LLMResponse
		Error *string `json:"error"`
		Code  string  `json:"code"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode llm_complete answer: %w", err)
	}
	if out.Error != nil {
		code := out.Code
		if code == "" {
			code = CodeLLMProvider
		}
		return nil, NewError(code, "llm_complete: "+*out.Error, nil)
	}
	return &out.LLMResponse, nil
}
