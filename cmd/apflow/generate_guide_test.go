package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/internal/llmfake"
)

// The guide's example requirements, and what the fake model answers to them.
const (
	guideGood = "Fetch user data and order data in parallel, then merge the results and save to database"
	guideBad  = "Get some data and do something with it"

	// guideGoodTree fetches both in parallel, merges them, saves, under an aggregator root.
	guideGoodTree = "```json\n" + `[
  {"name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["save"]},
  {"name": "users", "parent_id": "report", "schemas": {"method": "rest_executor"}, "inputs": {"url": "https://api.example.com/users", "method": "GET"}},
  {"name": "orders", "parent_id": "report", "schemas": {"method": "rest_executor"}, "inputs": {"url": "https://api.example.com/orders", "method": "GET"}},
  {"name": "merge", "parent_id": "report", "schemas": {"method": "json_transform"}, "dependencies": ["users", "orders"], "inputs": {"pick": ["users", "orders"]}},
  {"name": "save", "parent_id": "report", "schemas": {"method": "rest_executor"}, "dependencies": ["merge"], "inputs": {"url": "https://db.example.com/save", "method": "POST"}}
]` + "\n```"
	// guideBadTree is what a vague requirement gets: executors that do not exist.
	guideBadTree = "```json\n" + `[{"name": "get", "schemas": {"method": "get_some_data"}}, {"name": "do", "schemas": {"method": "do_something"}, "dependencies": ["get"]}]` + "\n```"
)

// TestGenerateGuideRequirements: apflow generate on the guide's good and bad example
// requirements, against a fake provider on loopback and the first-party plugins. The
// good one gives a checked tree whose two fetches run in parallel, in single and in
// multi-phase mode; for the bad one the model never names installed executors, and
// generate fails after its repair rounds, listing the last problems.
func TestGenerateGuideRequirements(t *testing.T) {
	plugins := filepath.Dir(builtFile(t, "../../build/plugins/rest_executor.wasm", "plugins"))
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("ANTHROPIC_API_KEY", "")
	tests := []struct {
		name, requirement, mode string
		answers                 []string
		code                    int
		want                    string // part of stderr
	}{
		{"good, single", guideGood, "single", []string{guideGoodTree}, exitOK, "generated 5 task(s) in 1 round(s)"},
		{"good, multi", guideGood, "multi", []string{"Two fetches in parallel, a merge after both, a save after the merge.", guideGoodTree}, exitOK, "generated 5 task(s)"},
		{"bad, multi", guideBad, "multi", []string{"Unclear.", guideBadTree}, exitInvalid, "do_something"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := llmfake.New(t)
			for _, a := range tt.answers {
				fake.Reply(a)
			}
			cfg, _ := json.Marshal(map[string]any{"llm": fake.Config("openai")})
			cfgPath := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"generate", "--mode", tt.mode, "--data-dir", t.TempDir(), "--plugins", plugins, "--config", cfgPath}
			if tt.mode == "multi" {
				args = append(args, "--max-rounds", "2")
			}
			code, stdout, stderr := apflow(t, "", append(args, tt.requirement)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d (want %d), want %q in stderr\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.want, stdout, stderr)
			}
			if tt.code != exitOK {
				return
			}
			var tree []struct {
				ID           string `json:"id"`
				Name         string `json:"name"`
				Dependencies []any  `json:"dependencies"`
			}
			if err := json.Unmarshal([]byte(stdout), &tree); err != nil || len(tree) != 5 {
				t.Fatalf("tree: %v\n%s", err, stdout)
			}
			for _, x := range tree {
				if (x.Name == "users" || x.Name == "orders") && len(x.Dependencies) != 0 {
					t.Fatalf("%s depends on %v: the fetches must run in parallel", x.Name, x.Dependencies)
				}
			}
		})
	}
}
