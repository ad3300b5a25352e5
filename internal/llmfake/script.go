package llmfake

import (
	"context"
	"sync"

	"github.com/apflow-wasm/apflow/host/llm"
)

// Script is an in-process llm.Completer for tests that need no HTTP: each call gets the
// next of its answers, with DefaultInputTokens and DefaultOutputTokens of usage; once
// they run out every call fails with llm.ErrBudget, as a model past its budget does.
// Safe for concurrent use.
type Script struct {
	mu      sync.Mutex
	answers []string
}

// NewScript returns a Script answering answers, in order.
func NewScript(answers ...string) *Script { return &Script{answers: answers} }

// Complete implements llm.Completer.
func (s *Script) Complete(context.Context, llm.Request) (*llm.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.answers) == 0 {
		return nil, llm.ErrBudget
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return &llm.Response{Content: a, Model: Model, Usage: llm.Usage{InputTokens: DefaultInputTokens, OutputTokens: DefaultOutputTokens}}, nil
}
