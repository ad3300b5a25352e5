package llm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/llm"
)

func TestConfigValidate(t *testing.T) {
	ok := llm.Config{Provider: llm.ProviderOpenAI, Model: "m"}
	tests := []struct {
		name    string
		edit    func(*llm.Config)
		wantErr string // "" for valid
	}{
		{name: "minimal openai", edit: func(*llm.Config) {}},
		{name: "anthropic with everything", edit: func(c *llm.Config) {
			*c = llm.Config{Provider: llm.ProviderAnthropic, BaseURL: "http://127.0.0.1:8080", Model: "m", APIKeyEnv: "K",
				TimeoutMS: 1000, MaxTokens: 10, TaskTokenBudget: 5, UserTokenBudget: 6}
		}},
		{name: "no provider", edit: func(c *llm.Config) { c.Provider = "" }, wantErr: "llm.provider: required"},
		{name: "unknown provider", edit: func(c *llm.Config) { c.Provider = "gemini" }, wantErr: "llm.provider"},
		{name: "no model", edit: func(c *llm.Config) { c.Model = " " }, wantErr: "llm.model"},
		{name: "relative base", edit: func(c *llm.Config) { c.BaseURL = "localhost:11434" }, wantErr: "llm.base_url"},
		{name: "ftp base", edit: func(c *llm.Config) { c.BaseURL = "ftp://x/v1" }, wantErr: "llm.base_url"},
		{name: "base with query", edit: func(c *llm.Config) { c.BaseURL = "http://x/v1?a=b" }, wantErr: "llm.base_url"},
		{name: "both key forms", edit: func(c *llm.Config) { c.APIKey, c.APIKeyEnv = "k", "K" }, wantErr: "llm.api_key_env"},
		{name: "negative timeout", edit: func(c *llm.Config) { c.TimeoutMS = -1 }, wantErr: "llm.timeout_ms"},
		{name: "negative max_tokens", edit: func(c *llm.Config) { c.MaxTokens = -1 }, wantErr: "llm.max_tokens"},
		{name: "negative task budget", edit: func(c *llm.Config) { c.TaskTokenBudget = -1 }, wantErr: "llm.task_token_budget"},
		{name: "negative user budget", edit: func(c *llm.Config) { c.UserTokenBudget = -1 }, wantErr: "llm.user_token_budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		want   llm.Config
		wantOK bool
	}{
		{name: "nothing", env: nil},
		{name: "only a model", env: map[string]string{"OPENAI_MODEL": "m"}},
		{name: "openai key", env: map[string]string{"OPENAI_API_KEY": "sk"}, wantOK: true,
			want: llm.Config{Provider: "openai", Model: llm.DefaultOpenAIModel, APIKeyEnv: "OPENAI_API_KEY"}},
		{name: "openai base only (ollama)", env: map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENAI_MODEL": "llama3"}, wantOK: true,
			want: llm.Config{Provider: "openai", BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3"}},
		{name: "openai wins over anthropic", env: map[string]string{"OPENAI_API_KEY": "sk", "ANTHROPIC_API_KEY": "ak"}, wantOK: true,
			want: llm.Config{Provider: "openai", Model: llm.DefaultOpenAIModel, APIKeyEnv: "OPENAI_API_KEY"}},
		{name: "anthropic key", env: map[string]string{"ANTHROPIC_API_KEY": "ak", "ANTHROPIC_MODEL": "claude-x"}, wantOK: true,
			want: llm.Config{Provider: "anthropic", Model: "claude-x", APIKeyEnv: "ANTHROPIC_API_KEY"}},
		{name: "anthropic base", env: map[string]string{"ANTHROPIC_API_KEY": "ak", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, wantOK: true,
			want: llm.Config{Provider: "anthropic", BaseURL: "http://127.0.0.1:9", Model: llm.DefaultAnthropicModel, APIKeyEnv: "ANTHROPIC_API_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := llm.FromEnv(func(k string) string { return tt.env[k] })
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("FromEnv = %+v %v, want %+v %v", got, ok, tt.want, tt.wantOK)
			}
			if ok {
				if err := got.Validate(); err != nil {
					t.Errorf("the fallback config is invalid: %v", err)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     llm.Config
		env     map[string]string
		wantErr error  // matched with errors.Is
		wantMsg string // substring of the error
	}{
		{name: "nothing configured", wantErr: llm.ErrNotConfigured},
		{name: "budgets only, no env", cfg: llm.Config{TaskTokenBudget: 5}, wantErr: llm.ErrNotConfigured, wantMsg: "llm.provider"},
		{name: "budgets with env fallback", cfg: llm.Config{TaskTokenBudget: 5}, env: map[string]string{"OPENAI_API_KEY": "sk"}},
		{name: "model without provider", cfg: llm.Config{Model: "m"}, env: map[string]string{"OPENAI_API_KEY": "sk"}, wantMsg: "llm.provider"},
		{name: "invalid config", cfg: llm.Config{Provider: "openai"}, wantMsg: "llm.model"},
		{name: "key env unset", cfg: llm.Config{Provider: "anthropic", Model: "m", APIKeyEnv: "MY_KEY"}, wantMsg: "MY_KEY"},
		{name: "key env set", cfg: llm.Config{Provider: "anthropic", Model: "m", APIKeyEnv: "MY_KEY"}, env: map[string]string{"MY_KEY": "k"}},
		{name: "keyless local server", cfg: llm.Config{Provider: "openai", BaseURL: "http://127.0.0.1:8080/v1", Model: "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := llm.New(tt.cfg, func(k string) string { return tt.env[k] })
			if tt.wantErr == nil && tt.wantMsg == "" {
				if err != nil || c == nil {
					t.Fatalf("New = %v, %v", c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want it to name %q", err, tt.wantMsg)
			}
		})
	}
}

func TestNewFallbackReachesProvider(t *testing.T) {
	s := llmfakeServer(t)
	s.Reply("from env")
	env := map[string]string{"ANTHROPIC_API_KEY": "env-key", "ANTHROPIC_BASE_URL": s.URL()}
	c, err := llm.New(llm.Config{}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Complete(t.Context(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "q"}}})
	if err != nil || r.Content != "from env" {
		t.Fatalf("Complete = %+v, %v", r, err)
	}
	got := s.Requests()[0]
	if got.Header.Get("x-api-key") != "env-key" || got.Model != llm.DefaultAnthropicModel {
		t.Errorf("key %q model %q", got.Header.Get("x-api-key"), got.Model)
	}
}

// The environment fallback's Anthropic model must be one the API still serves.
func TestDefaultAnthropicModelIsCurrent(t *testing.T) {
	if llm.DefaultAnthropicModel != "claude-haiku-4-5" {
		t.Errorf("DefaultAnthropicModel = %q, want claude-haiku-4-5", llm.DefaultAnthropicModel)
	}
}
