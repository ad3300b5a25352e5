package main

import (
	"errors"
	"os"

	"github.com/apflow-wasm/apflow/host/config"
	"github.com/apflow-wasm/apflow/host/llm"
)

// newCompleter builds the language model the operator config's llm section names, else
// the one the conventional environment variables name (llm.FromEnv); nil when neither
// names one (generate_executor and tasks.generate then answer that no provider is
// configured). A section that names one wrongly is an error.
func newCompleter(cfg *config.Config) (llm.Completer, error) {
	var c llm.Config
	if cfg != nil && cfg.LLM != nil {
		c = *cfg.LLM
	}
	comp, err := llm.New(c, os.Getenv)
	if errors.Is(err, llm.ErrNotConfigured) {
		return nil, nil
	}
	return comp, err
}
