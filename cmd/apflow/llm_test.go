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
