package api

import (
	"context"
	"fmt"
	"testing"

	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/generate"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/llmfake"
)

// generatorFor returns a setup mutation giving the server a Generator over model,
// validated by the server's own Prepare.
func generatorFor(t *testing.T, model llm.Completer) func(*Config) {
	return func(cfg *Config) {
		// The built-ins (aggregate_results_executor for a wrapped root) beside the tests'.
		cfg.Catalog = executor.Chain(builtin.Catalog(), cfg.Catalog)
		cfg.Prepare = SubmitPrepare(cfg.Catalog, cfg.Store, nil, nil, 0)
		prepare := cfg.Prepare
		g, err := generate.New(generate.Config{Completer: model, Catalog: cfg.Catalog,
			Validate: func(ctx context.Context, tree []byte) error {
				_, err := prepare(ctx, tree, Owner{})
				return err
			}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Generator = g
	}
}

const generatedTree = "```json\n" + `[
  {"name": "a", "schemas": {"method": "echo"}, "inputs": {"x": 1}},
  {"name": "b", "schemas": {"method": "echo"}, "inputs": {"x": 2}}
]` + "\n```"

type generateResult struct {
	Tasks      []map[string]any `json:"tasks"`
	Count      int              `json:"count"`
	Message    string           `json:"message"`
	RootTaskID string           `json:"root_task_id"`
	Rounds     int              `json:"rounds"`
}

func TestTasksGenerate(t *testing.T) {
	for _, save := range []bool{false, true} {
		e := setup(t, setupOpts{mutate: generatorFor(t, llmfake.NewScript(generatedTree))})
		var res generateResult
		e.ok(t, "", "tasks.generate", map[string]any{"requirement": "echo twice", "save": save, "user_id": "ann"}, &res)
		// Two roots wrapped into an aggregator root: three tasks.
		if res.Count != 3 || len(res.Tasks) != 3 || res.Rounds != 1 || res.Message == "" {
			t.Fatalf("save=%v: result = %+v", save, res)
		}
		if res.Tasks[0]["user_id"] != "ann" {
			t.Errorf("save=%v: user_id not stamped: %v", save, res.Tasks[0])
		}
		var n map[string]any
		e.ok(t, "", "tasks.count", map[string]any{}, &n)
		switch {
		case !save && (res.RootTaskID != "" || n["total"].(float64) != 0):
			t.Errorf("save=false stored tasks: root %q, count %v", res.RootTaskID, n)
		case save && (res.RootTaskID != res.Tasks[0]["id"] || n["total"].(float64) != 3):
			t.Errorf("save=true: root %q (tree root %v), count %v", res.RootTaskID, res.Tasks[0]["id"], n)
		}
		if save {
			var root task.Task
			e.ok(t, "", "tasks.get", map[string]any{"task_id": res.RootTaskID}, &root)
			if root.UserID != "ann" || root.Schemas["method"] != generate.AggregatorID {
				t.Errorf("stored root = %+v", root)
			}
		}
	}
}

func TestTasksGenerateErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		params map[string]any
		code   int
		reason string
	}{
		{name: "not configured", params: map[string]any{"requirement": "r"}, code: -32603, reason: "llm_not_configured"},
		{name: "no requirement", params: map[string]any{}, code: -32602},
		{name: "model refused", params: map[string]any{"requirement": "r", "model": "gpt"}, code: -32602},
		{name: "unknown mode", params: map[string]any{"requirement": "r", "generation_mode": "both"}, code: -32602},
		{name: "no valid tree", mutate: generatorFor(t, llmfake.NewScript(`[{"name":"x","schemas":{"method":"nope"}}]`)),
			params: map[string]any{"requirement": "r"}, code: -32012},
		{name: "budget", mutate: generatorFor(t, llmfake.NewScript()), params: map[string]any{"requirement": "r"}, code: -32603, reason: "llm_budget"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := setup(t, setupOpts{mutate: c.mutate})
			je := e.fails(t, "", "tasks.generate", c.params, c.code)
			if c.reason != "" {
				if d, _ := je.Data.(map[string]any); d["reason"] != c.reason {
					t.Errorf("data = %v, want reason %s", je.Data, c.reason)
				}
			}
			if c.code == -32012 { // the tokens spent are reported
				u, _ := je.Data.(map[string]any)["usage"].(map[string]any)
				if fmt.Sprint(u["input_tokens"]) != fmt.Sprint(llmfake.DefaultInputTokens) {
					t.Errorf("data = %v, want usage", je.Data)
				}
			}
		})
	}
}

// TestTasksGenerateChecksAsCaller: with authentication on, the generated tree is checked
// with the caller's user and namespace, as tasks.create saves it, so a tree the save
// would refuse (a user_id the model invented) is no valid tree, and a non-admin cannot
// ask for another user's tree.
func TestTasksGenerateChecksAsCaller(t *testing.T) {
	invented := `[{"name":"a","user_id":"bob","schemas":{"method":"echo"},"inputs":{"x":1}}]`
	e := setup(t, setupOpts{auth: true, mutate: generatorFor(t, llmfake.NewScript(invented))})
	alice := e.token(t, "alice")
	e.fails(t, alice, "tasks.generate", map[string]any{"requirement": "r", "save": true}, -32012)
	je := e.fails(t, alice, "tasks.generate", map[string]any{"requirement": "r", "user_id": "bob"}, -32602)
	if d, _ := je.Data.(map[string]any); d["field"] != "user_id" {
		t.Errorf("data = %v, want field user_id", je.Data)
	}

	e = setup(t, setupOpts{auth: true, mutate: generatorFor(t, llmfake.NewScript(generatedTree))})
	alice = e.token(t, "alice")
	var res generateResult
	e.ok(t, alice, "tasks.generate", map[string]any{"requirement": "r", "save": true, "user_id": "alice"}, &res)
	if res.Count != 3 || res.RootTaskID == "" || res.Tasks[0]["user_id"] != "alice" {
		t.Errorf("result = %+v", res)
	}
}
