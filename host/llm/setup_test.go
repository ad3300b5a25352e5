package llm_test

import (
	"testing"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/internal/llmfake"
)

// noEnv is a getenv with nothing set.
func noEnv(string) string { return "" }

// setup starts a fake provider and builds provider's Completer pointing at it; edit, when
// not nil, changes the config first.
func setup(t *testing.T, provider string, edit func(*llm.Config)) (*llmfake.Server, llm.Completer) {
	t.Helper()
	s := llmfake.New(t)
	cfg := s.Config(provider)
	if edit != nil {
		edit(&cfg)
	}
	c, err := llm.New(cfg, noEnv)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, c
}

func ptr[T any](v T) *T { return &v }

func llmfakeServer(t *testing.T) *llmfake.Server { t.Helper(); return llmfake.New(t) }
