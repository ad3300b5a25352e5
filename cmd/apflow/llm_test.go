package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/internal/llmfake"
)

// TestGenerateThroughTheConfiguredProvider: apflow generate asks the provider the
// operator config's llm section names, in each provider's wire format (a fake on
// loopback), and writes the tree it answered, checked; without an llm section nor the
// environment variables it says that no provider is configured.
func TestGenerateThroughTheConfiguredProvider(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	t.Setenv("ANTHROPIC_API_KEY", "")
	for _, provider := range []string{"openai", "anthropic"} {
		t.Run(provider, func(t *testing.T) {
			fake := llmfake.New(t)
			fake.Reply(twoEchoes)
			dataDir, plugins := setup(t)
			cfg, err := json.Marshal(map[string]any{"llm": fake.Config(provider)})
			if err != nil {
				t.Fatal(err)
			}
			cfgPath := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := apflow(t, "", "generate", "--data-dir", dataDir, "--plugins", plugins, "--config", cfgPath, "echo twice")
			var tree []map[string]any
			if code != exitOK || json.Unmarshal([]byte(stdout), &tree) != nil || len(tree) != 3 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			reqs := fake.Requests()
			if len(reqs) != 1 || reqs[0].Format != provider {
				t.Fatalf("the provider got %d requests, the first in format %q", len(reqs), reqs[0].Format)
			}
			if m := reqs[0].Request.Messages; len(m) < 2 || m[0].Role != "system" || !strings.Contains(m[0].Content, "## echo") {
				t.Fatalf("the prompt does not start with the catalog as the system message: %.300v", m)
			}
		})
	}
	dataDir, plugins := setup(t)
	code, _, stderr := apflow(t, "", "generate", "--data-dir", dataDir, "--plugins", plugins, "echo twice")
	if code == exitOK || !strings.Contains(stderr, "no provider is configured") {
		t.Fatalf("without a provider: exit %d\n%s", code, stderr)
	}
}

// TestLLMExecutorRun: apflow run of a tree with llm_executor tasks, the llm grant and a
// provider in the operator config (a fake on loopback): the answer is the task's
// result, the tokens are in its usage, the key goes to the provider (the plugin only
// asks the host), and a user's tasks past its token budget fail with
// llm_budget_exceeded.
func TestLLMExecutorRun(t *testing.T) {
	module := builtFile(t, "../../build/plugins/llm_executor.wasm", "plugins")
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("ANTHROPIC_API_KEY", "")
	fake := llmfake.New(t)
	fake.Reply("Paris")
	fake.Usage(7, 3)
	dataDir, plugins := setup(t)
	copyFile(t, module, filepath.Join(plugins, "llm_executor.wasm"))
	llmCfg := fake.Config("openai")
	llmCfg.TaskTokenBudget = 15 // one call (10 tokens) fits; a second one does not
	cfg, _ := json.Marshal(map[string]any{"llm": llmCfg, "plugins": map[string]any{"llm_executor": map[string]any{"llm": true}}})
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	tree := writeTree(t, `[{"id": "ask", "name": "ask", "schemas": {"method": "llm_executor"},
	  "inputs": {"system": "Answer in one word.", "messages": [{"role": "user", "content": "The capital of France?"}]}}]`)
	code, stdout, stderr := apflow(t, "", "run", "--json", "--keep-ids", "--data-dir", dataDir, "--plugins", plugins, "--config", cfgPath, tree)
	if code != exitOK || !strings.Contains(stdout, `"content": "Paris"`) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, stdout, _ = apflow(t, "", "tasks", "get", "ask", "--data-dir", dataDir, "--plugins", plugins, "--config", cfgPath)
	if code != exitOK || !strings.Contains(stdout, `"llm_input_tokens": 7`) || !strings.Contains(stdout, `"llm_output_tokens": 3`) {
		t.Fatalf("the task's usage lacks the tokens:\n%s", stdout)
	}
	if reqs := fake.Requests(); len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+llmfake.Key {
		t.Fatalf("the provider got %d requests, the first with Authorization %q", len(reqs), reqs[0].Header.Get("Authorization"))
	}
	// A user's budget: 15 tokens; each answer costs 10, and a call is refused once the
	// user has spent the budget, so the third task of one user fails.
	llmCfg.TaskTokenBudget, llmCfg.UserTokenBudget = 0, 15
	cfg, _ = json.Marshal(map[string]any{"llm": llmCfg, "plugins": map[string]any{"llm_executor": map[string]any{"llm": true}}})
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	three := writeTree(t, `[{"name": "third", "user_id": "ada", "schemas": {"method": "llm_executor"}, "inputs": {"messages": [{"role": "user", "content": "3"}]}, "dependencies": ["second"]},
	  {"name": "second", "user_id": "ada", "parent_id": "third", "schemas": {"method": "llm_executor"}, "inputs": {"messages": [{"role": "user", "content": "2"}]}, "dependencies": ["first"]},
	  {"name": "first", "user_id": "ada", "parent_id": "third", "schemas": {"method": "llm_executor"}, "inputs": {"messages": [{"role": "user", "content": "1"}]}}]`)
	code, stdout, stderr = apflow(t, "", "run", "--data-dir", dataDir, "--plugins", plugins, "--config", cfgPath, three)
	if code != exitFailed || !strings.Contains(stdout+stderr, "llm_budget_exceeded") || strings.Count(stdout+stderr, "✓") != 2 {
		t.Fatalf("three calls over a 15-token user budget: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
