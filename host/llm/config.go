package llm

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Provider names accepted in Config.Provider.
const (
	ProviderOpenAI    = "openai"
	ProviderAnthropic = "anthropic"
)

// Defaults of a Config's empty fields.
const (
	// DefaultOpenAIBaseURL is the OpenAI API's base; chat completions are POSTed to
	// {base}/chat/completions.
	DefaultOpenAIBaseURL = "https://api.openai.com/v1"
	// DefaultAnthropicBaseURL is the Anthropic API's base; messages are POSTed to
	// {base}/v1/messages.
	DefaultAnthropicBaseURL = "https://api.anthropic.com"
	// DefaultOpenAIModel is the model of the environment fallback when OPENAI_MODEL is unset.
	DefaultOpenAIModel = "gpt-4o-mini"
	// DefaultAnthropicModel is the model of the environment fallback when ANTHROPIC_MODEL
	// is unset. Models are retired over time: operators should name theirs.
	DefaultAnthropicModel = "claude-haiku-4-5"
	// DefaultTimeout bounds one HTTP call when TimeoutMS is 0.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxTokens bounds an answer when neither the request nor MaxTokens does
	// (Anthropic requires a bound on every request).
	DefaultMaxTokens = 1024
)

// Environment variables of the fallback (FromEnv).
const (
	EnvOpenAIKey        = "OPENAI_API_KEY"
	EnvOpenAIBaseURL    = "OPENAI_BASE_URL"
	EnvOpenAIModel      = "OPENAI_MODEL"
	EnvAnthropicKey     = "ANTHROPIC_API_KEY"
	EnvAnthropicBaseURL = "ANTHROPIC_BASE_URL"
	EnvAnthropicModel   = "ANTHROPIC_MODEL"
)

// Config is the operator's choice of provider (the "llm" section of the config file).
//
// The key is best given as APIKeyEnv, the name of an environment variable holding it, so
// the config file need not hold the secret; APIKey, when set, wins. A key is sent only to
// the provider, never to a guest.
type Config struct {
	// Provider is "openai" (any OpenAI-compatible chat completions server: vLLM,
	// llama.cpp's server, Ollama) or "anthropic".
	Provider string `json:"provider"`
	// BaseURL overrides the provider's default base (DefaultOpenAIBaseURL,
	// DefaultAnthropicBaseURL).
	BaseURL string `json:"base_url,omitempty"`
	// Model is the model asked; required.
	Model string `json:"model"`
	// APIKey is the key itself (prefer APIKeyEnv). Empty with an empty APIKeyEnv: no key
	// is sent (local servers).
	APIKey string `json:"api_key,omitempty"`
	// APIKeyEnv names the environment variable holding the key.
	APIKeyEnv string `json:"api_key_env,omitempty"`
	// TimeoutMS bounds one HTTP call, in milliseconds (0: DefaultTimeout).
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// MaxTokens bounds an answer when the request sets no bound (0: DefaultMaxTokens).
	MaxTokens int `json:"max_tokens,omitempty"`
	// TaskTokenBudget bounds the tokens (input and output) one task spends in this
	// process over its whole life; 0 is unlimited.
	TaskTokenBudget int64 `json:"task_token_budget,omitempty"`
	// UserTokenBudget bounds the tokens one user spends in this process; 0 is unlimited.
	UserTokenBudget int64 `json:"user_token_budget,omitempty"`
}

// Validate reports the first invalid field, named as in the config file ("llm.model").
func (c Config) Validate() error {
	switch c.Provider {
	case ProviderOpenAI, ProviderAnthropic:
	case "":
		return fmt.Errorf("llm.provider: required (%q or %q)", ProviderOpenAI, ProviderAnthropic)
	default:
		return fmt.Errorf("llm.provider: %q is not %q or %q", c.Provider, ProviderOpenAI, ProviderAnthropic)
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("llm.base_url: %q is not an absolute http or https URL", c.BaseURL)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("llm.base_url: %q must have no query or fragment", c.BaseURL)
		}
	}
	if strings.TrimSpace(c.Model) == "" {
		return fmt.Errorf("llm.model: required")
	}
	if c.APIKey != "" && c.APIKeyEnv != "" {
		return fmt.Errorf("llm.api_key_env: set either api_key or api_key_env, not both")
	}
	if c.TimeoutMS < 0 {
		return fmt.Errorf("llm.timeout_ms: %d is negative", c.TimeoutMS)
	}
	if c.MaxTokens < 0 {
		return fmt.Errorf("llm.max_tokens: %d is negative", c.MaxTokens)
	}
	if c.TaskTokenBudget < 0 {
		return fmt.Errorf("llm.task_token_budget: %d is negative", c.TaskTokenBudget)
	}
	if c.UserTokenBudget < 0 {
		return fmt.Errorf("llm.user_token_budget: %d is negative", c.UserTokenBudget)
	}
	return nil
}

// FromEnv builds a Config from the conventional environment variables, for when the
// config file names no provider: OPENAI_API_KEY or OPENAI_BASE_URL selects "openai"
// (model OPENAI_MODEL, default DefaultOpenAIModel); otherwise ANTHROPIC_API_KEY or
// ANTHROPIC_BASE_URL selects "anthropic" (model ANTHROPIC_MODEL, default
// DefaultAnthropicModel). The key is referenced by its variable's name (APIKeyEnv), not
// copied. ok is false when none of them is set.
func FromEnv(getenv func(string) string) (cfg Config, ok bool) {
	for _, p := range envProviders {
		if getenv(p.key) == "" && getenv(p.baseURL) == "" {
			continue
		}
		cfg = Config{Provider: p.provider, BaseURL: getenv(p.baseURL), Model: getenv(p.model)}
		if cfg.Model == "" {
			cfg.Model = p.defaultModel
		}
		if getenv(p.key) != "" {
			cfg.APIKeyEnv = p.key
		}
		return cfg, true
	}
	return Config{}, false
}

// envProviders are the providers FromEnv looks for, in its order, with their variables.
var envProviders = []struct {
	provider, key, baseURL, model, defaultModel string
}{
	{ProviderOpenAI, EnvOpenAIKey, EnvOpenAIBaseURL, EnvOpenAIModel, DefaultOpenAIModel},
	{ProviderAnthropic, EnvAnthropicKey, EnvAnthropicBaseURL, EnvAnthropicModel, DefaultAnthropicModel},
}

// New builds the Completer of a config, wrapped in its token budgets (Budgeted). A config
// with no provider falls back to FromEnv, keeping the config's timeout, answer bound and
// budgets; with neither, New returns ErrNotConfigured. getenv (os.Getenv in production) resolves APIKeyEnv and the fallback.
// An APIKeyEnv naming an unset variable is an error: a configured key that is missing must
// not silently become "no key".
func New(cfg Config, getenv func(string) string) (Completer, error) {
	c := cfg
	if c.Provider == "" {
		env, ok := FromEnv(getenv)
		if !ok {
			if cfg != (Config{}) {
				return nil, fmt.Errorf("llm.provider: required (%q or %q) when no %s or %s is set: %w",
					ProviderOpenAI, ProviderAnthropic, EnvOpenAIKey, EnvAnthropicKey, ErrNotConfigured)
			}
			return nil, ErrNotConfigured
		}
		if cfg.BaseURL != "" || cfg.Model != "" || cfg.APIKey != "" || cfg.APIKeyEnv != "" {
			return nil, fmt.Errorf("llm.provider: required when base_url, model or a key is set")
		}
		c = env
		c.TimeoutMS, c.MaxTokens = cfg.TimeoutMS, cfg.MaxTokens
		c.TaskTokenBudget, c.UserTokenBudget = cfg.TaskTokenBudget, cfg.UserTokenBudget
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	key := c.APIKey
	if c.APIKeyEnv != "" {
		if key = getenv(c.APIKeyEnv); key == "" {
			return nil, fmt.Errorf("llm.api_key_env: environment variable %s is empty or unset", c.APIKeyEnv)
		}
	}
	hc := newHTTPClient(c.timeout())
	var p Completer
	defaultMax := c.MaxTokens
	switch c.Provider {
	case ProviderOpenAI:
		p = &OpenAI{BaseURL: c.baseURL(DefaultOpenAIBaseURL), Model: c.Model, Key: key, MaxTokens: c.MaxTokens, Client: hc}
	case ProviderAnthropic:
		defaultMax = c.maxTokens()
		p = &Anthropic{BaseURL: c.baseURL(DefaultAnthropicBaseURL), Model: c.Model, Key: key, MaxTokens: defaultMax, Client: hc}
	}
	return budgetedWithDefault(p, c.TaskTokenBudget, c.UserTokenBudget, defaultMax), nil
}

func (c Config) timeout() time.Duration {
	if c.TimeoutMS == 0 {
		return DefaultTimeout
	}
	return time.Duration(c.TimeoutMS) * time.Millisecond
}

func (c Config) maxTokens() int {
	if c.MaxTokens == 0 {
		return DefaultMaxTokens
	}
	return c.MaxTokens
}

func (c Config) baseURL(def string) string {
	if c.BaseURL == "" {
		return def
	}
	return strings.TrimRight(c.BaseURL, "/")
}
