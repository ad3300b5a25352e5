package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/store"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		wantErr string // substring; "" means valid
	}{
		{"empty", `{}`, ""},
		{"full", `{"concurrency": 4, "limits": {"timeout_ms": 5000, "memory_pages": 512},
			"hooks": ["audit", "metrics"],
			"plugins": {"rest_executor": {"http": ["api.example.com", "*.example.org"], "clock": true,
				"config": {"TOKEN": "s3cret"}, "limits": {"timeout_ms": 60000}}}}`, ""},
		{"unknown key is a typo", `{"plugin": {}}`, "'plugin' not allowed"},
		{"grant typo", `{"plugins": {"x": {"htttp": ["a"]}}}`, "plugins.x"},
		{"wrong type", `{"concurrency": "many"}`, "concurrency"},
		{"out of range", `{"limits": {"memory_pages": 70000}}`, "limits.memory_pages"},
		{"duplicate hook", `{"hooks": ["a", "a"]}`, "hooks"},
		{"retry policy", `{"retry": {"max_attempts": 3, "backoff": {"initial_ms": 100, "max_ms": 5000, "jitter": 0.5},
			"retry_on": ["timeout", "code:RATE_LIMITED"]}}`, ""},
		{"retry typo", `{"retry": {"max_attempt": 3}}`, "retry"},
		{"retry out of range", `{"retry": {"max_attempts": 0}}`, "retry.max_attempts"},
		{"retry bad entry", `{"retry": {"retry_on": ["sometimes"]}}`, "retry.retry_on[0]"},
		{"retry max below initial", `{"retry": {"backoff": {"initial_ms": 10, "max_ms": 5}}}`, "retry.backoff.max_ms"},
		{"kv grant", `{"plugins": {"c": {"kv": {"max_bytes": 1000, "max_keys": 10, "max_value_bytes": 100}}, "d": {"kv": {}}}}`, ""},
		{"kv grant typo", `{"plugins": {"c": {"kv": {"max_key": 10}}}}`, "plugins.c.kv"},
		{"kv quota zero", `{"plugins": {"c": {"kv": {"max_keys": 0}}}}`, "plugins.c.kv.max_keys"},
		{"kv value over the store's cap", `{"plugins": {"c": {"kv": {"max_value_bytes": 2000000}}}}`, "plugins.c.kv.max_value_bytes"},
		{"kv as a bool", `{"plugins": {"c": {"kv": true}}}`, "plugins.c.kv"},
		{"llm grant", `{"plugins": {"c": {"llm": true}}}`, ""},
		{"llm grant not a bool", `{"plugins": {"c": {"llm": {"model": "x"}}}}`, "plugins.c.llm"},
		{"task logs", `{"task_logs": {"max_lines": 50, "max_bytes": 4096}}`, ""},
		{"task logs typo", `{"task_logs": {"max_line": 50}}`, "task_logs"},
		{"task logs zero", `{"task_logs": {"max_bytes": 0}}`, "task_logs.max_bytes"},
		{"llm", `{"llm": {"provider": "anthropic", "model": "claude-x", "api_key_env": "ANTHROPIC_API_KEY", "timeout_ms": 30000,
			"max_tokens": 512, "task_token_budget": 100000, "user_token_budget": 1000000}}`, ""},
		{"llm local server, no key", `{"llm": {"provider": "openai", "base_url": "http://127.0.0.1:11434/v1", "model": "llama3"}}`, ""},
		{"llm budgets only (env fallback)", `{"llm": {"task_token_budget": 1000}}`, ""},
		{"llm typo", `{"llm": {"modle": "x"}}`, "llm"},
		{"llm unknown provider", `{"llm": {"provider": "gemini", "model": "x"}}`, "llm.provider"},
		{"llm provider without model", `{"llm": {"provider": "openai"}}`, "'model' is required"},
		{"llm both key forms", `{"llm": {"provider": "openai", "model": "m", "api_key": "k", "api_key_env": "K"}}`, "llm.api_key_env: set either"},
		{"llm model without provider", `{"llm": {"model": "m"}}`, "'provider' is required"},
		{"llm relative base", `{"llm": {"provider": "openai", "model": "m", "base_url": "localhost:11434"}}`, "llm.base_url"},
		{"llm negative budget", `{"llm": {"user_token_budget": -1}}`, "llm.user_token_budget"},
		{"llm bad env name", `{"llm": {"provider": "openai", "model": "m", "api_key_env": "MY-KEY"}}`, "llm.api_key_env"},
		{"not json", `{"limits": `, "not valid JSON"},
		{"two documents", `{} {}`, "not valid JSON"},
		{"every problem, sorted by field", `{"plugin": {}, "limits": {"memory_pages": 70000}, "concurrency": "many"}`,
			"invalid: (top level): additionalProperties 'plugin' not allowed; concurrency: expected integer, but got string; " +
				"limits.memory_pages: must be <= 65536 but found 70000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.doc))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestGrantsAndLimitsByPlugin(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`{"plugins": {"rest_executor": {"http": ["api.example.com"], "limits": {"timeout_ms": 60000}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Grants("rest_executor"); len(g.HTTP) != 1 || g.HTTP[0] != "api.example.com" {
		t.Fatalf("grants = %+v", g)
	}
	if l := c.PluginLimits("rest_executor"); l.TimeoutMS != 60000 {
		t.Fatalf("limits = %+v", l)
	}
	if g := c.Grants("other"); len(g.HTTP) != 0 || g.Clock || g.Random || g.Repository {
		t.Fatalf("an unnamed plugin must get nothing: %+v", g)
	}
	if g := c.Grants("rest_executor"); g.KV != nil {
		t.Fatalf("kv granted without a kv key: %+v", g.KV)
	}
	c, err = Parse([]byte(`{"plugins": {"cache": {"kv": {"max_keys": 7}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Grants("cache"); g.KV == nil || g.KV.MaxKeys != 7 || g.KV.MaxBytes != 0 {
		t.Fatalf("kv grant = %+v", g.KV)
	}
	c, err = Parse([]byte(`{"plugins": {"writer": {"llm": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Grants("writer").LLM || c.Grants("other").LLM {
		t.Fatalf("llm grant: writer %+v, other %+v", c.Grants("writer"), c.Grants("other"))
	}
	var nilCfg *Config
	if g := nilCfg.Grants("x"); g.Clock {
		t.Fatal("nil config grants nothing")
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.json")
	if c, err := Load(path, true); err != nil || c == nil {
		t.Fatalf("optional missing file: %v", err)
	}
	if _, err := Load(path, false); err == nil {
		t.Fatal("a config file the operator named must exist")
	}
	if err := os.WriteFile(path, []byte(`{"concurrency": 0}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, true); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error must name the file: %v", err)
	}
}

// TestKVValueCapIsTheStores: the schema's ceiling of max_value_bytes is the largest
// value every store keeps (store.MaxKVValueBytes).
func TestKVValueCapIsTheStores(t *testing.T) {
	t.Parallel()
	doc := func(n int) []byte {
		return []byte(fmt.Sprintf(`{"plugins": {"c": {"kv": {"max_value_bytes": %d}}}}`, n))
	}
	if _, err := Parse(doc(store.MaxKVValueBytes)); err != nil {
		t.Fatalf("max_value_bytes = store.MaxKVValueBytes: %v", err)
	}
	if _, err := Parse(doc(store.MaxKVValueBytes + 1)); err == nil {
		t.Fatal("max_value_bytes above store.MaxKVValueBytes accepted")
	}
}

func TestLLMSection(t *testing.T) {
	t.Parallel()
	c, err := Parse([]byte(`{"llm": {"provider": "openai", "base_url": "http://127.0.0.1:8080/v1", "model": "m",
		"api_key_env": "LLM_KEY", "timeout_ms": 1500, "max_tokens": 64, "task_token_budget": 10, "user_token_budget": 20}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := llm.Config{Provider: "openai", BaseURL: "http://127.0.0.1:8080/v1", Model: "m", APIKeyEnv: "LLM_KEY",
		TimeoutMS: 1500, MaxTokens: 64, TaskTokenBudget: 10, UserTokenBudget: 20}
	if c.LLM == nil || *c.LLM != want {
		t.Fatalf("LLM = %+v, want %+v", c.LLM, want)
	}
	if c, err := Parse([]byte(`{}`)); err != nil || c.LLM != nil {
		t.Fatalf("no section: LLM = %+v, %v", c.LLM, err)
	}
}
