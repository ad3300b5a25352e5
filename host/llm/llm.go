// Package llm is the host's capability to ask a large language model: the request and
// answer every provider speaks (Request, Response), the interface the rest of the host
// consumes (Completer), and the typed errors callers map to codes.
//
// Keys and endpoints live in the operator's config and never enter a guest: plugins with
// the llm grant reach a Completer through the llm_complete host function.
package llm

import (
	"context"
	"errors"
)

// Roles of a Message.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one message of a conversation.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one completion asked of a model.
type Request struct {
	Messages []Message `json:"messages"`
	// MaxTokens bounds the answer (0: the provider's configured default). Budgeted lowers
	// it to the caller's remaining budget.
	MaxTokens int `json:"max_tokens,omitempty"`
	// Temperature, when set, overrides the provider's default.
	Temperature *float64 `json:"temperature,omitempty"`
	// JSON asks for a JSON object as the answer, where the provider can enforce it.
	JSON bool `json:"json,omitempty"`
}

// Usage counts the tokens of one completion, as the provider reported them.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// Response is a model's answer.
type Response struct {
	Content    string `json:"content"`
	Model      string `json:"model"`
	StopReason string `json:"stop_reason,omitempty"`
	Usage      Usage  `json:"usage"`
}

// Completer asks a model. Implementations are safe for concurrent use; ctx bounds the
// call (its deadline and cancellation end the HTTP request).
type Completer interface {
	Complete(ctx context.Context, req Request) (*Response, error)
}

// Errors of a Completer, matched with errors.Is.
var (
	// ErrNotConfigured: the operator configured no provider.
	ErrNotConfigured = errors.New("llm: no provider is configured")
	// ErrBudget: the call would exceed a token budget (per task or per user).
	ErrBudget = errors.New("llm: token budget exceeded")
	// ErrProvider: the provider refused or failed the request (HTTP error, bad answer).
	ErrProvider = errors.New("llm: provider error")
)

// AnswerError is the error of an answer that spent tokens but cannot be used (a 2xx
// answer without content): it carries the usage the provider reported, so budgets count
// it. Find it with errors.As; it matches what Err matches (ErrProvider, from the
// providers of this package).
type AnswerError struct {
	Err   error
	Usage Usage
}

func (e *AnswerError) Error() string { return e.Err.Error() }

func (e *AnswerError) Unwrap() error { return e.Err }
