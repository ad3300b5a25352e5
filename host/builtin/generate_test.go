package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/generate"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/llmfake"
)

func TestAggregatorIDMatches(t *testing.T) {
	if generate.AggregatorID != AggregateResultsID {
		t.Fatalf("generate.AggregatorID = %q, builtin.AggregateResultsID = %q", generate.AggregatorID, AggregateResultsID)
	}
}

// builtinCheck is tasks.create's check over the built-ins, for the given user.
func builtinCheck(ctx context.Context, tree []byte, userID string, ns task.Namespace) error {
	_, err := submit.PrepareTree(ctx, tree, submit.Options{Catalog: Catalog(), UserID: userID, Namespace: ns})
	return err
}

// TestGenerateExecutorChecksTheTree: the tree is checked by the check function
// WithGenerate was given (the host's tasks.create check), for the task's user.
func TestGenerateExecutorChecksTheTree(t *testing.T) {
	tree := `[{"name": "a", "schemas": {"method": "aggregate_results_executor"}}]`
	var users []string
	check := func(ctx context.Context, data []byte, userID string, ns task.Namespace) error {
		users = append(users, userID)
		return apferr.New(apferr.TreeValidation, "refused").WithData(map[string]any{"errors": []apferr.Problem{{Field: "id", Reason: "already exists"}}})
	}
	h, err := Catalog(WithGenerate(llmfake.NewScript(tree), nil, check)).Lookup(GenerateID)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	_, err = h.Execute(context.Background(), &executor.Request{Task: &task.Task{ID: "g", UserID: "ann"}, Inputs: json.RawMessage(`{"requirement":"r"}`)})
	if !errors.Is(err, generate.ErrNoValidTree) || len(users) != 1 || users[0] != "ann" {
		t.Fatalf("err = %v, check called for %q", err, users)
	}
	h, _ = Catalog(WithGenerate(llmfake.NewScript(tree), nil, nil)).Lookup(GenerateID)
	if _, err := h.Execute(context.Background(), &executor.Request{Task: &task.Task{ID: "g"}, Inputs: json.RawMessage(`{"requirement":"r"}`)}); err == nil || !strings.Contains(err.Error(), "check") {
		t.Fatalf("nil check: err = %v", err)
	}
}

func TestGenerateExecutor(t *testing.T) {
	t.Parallel()
	// Two roots over the built-ins: wrapped into one aggregator root.
	tree := "```json\n" + `[{"name": "a", "schemas": {"method": "aggregate_results_executor"}},
{"name": "b", "schemas": {"method": "aggregate_results_executor"}}]` + "\n```"
	unknown := `[{"name": "x", "schemas": {"method": "no_such_executor"}}]`
	cases := []struct {
		name    string
		opts    []Option
		inputs  string
		count   int
		wantErr string
	}{
		{name: "good tree", opts: []Option{WithGenerate(llmfake.NewScript(tree), nil, builtinCheck)}, inputs: `{"requirement": "two groups"}`, count: 3},
		{name: "unknown executor", opts: []Option{WithGenerate(llmfake.NewScript(unknown), nil, builtinCheck)}, inputs: `{"requirement": "x"}`, wantErr: `"no_such_executor" is not registered`},
		{name: "not configured", inputs: `{"requirement": "x"}`, wantErr: llm.ErrNotConfigured.Error()},
		{name: "inputs refused", opts: []Option{WithGenerate(llmfake.NewScript(), nil, builtinCheck)}, inputs: `{"mode": "both"}`, wantErr: "requirement"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := Catalog(c.opts...).Lookup(GenerateID)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release()
			resp, err := h.Execute(context.Background(), &executor.Request{Task: &task.Task{ID: "g"}, Inputs: json.RawMessage(c.inputs)})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				// A failure after the model answered keeps the tokens spent.
				if c.name == "unknown executor" && (resp == nil || resp.Usage.LLMInputTokens != llmfake.DefaultInputTokens) {
					t.Errorf("failure usage = %+v, want the tokens spent", resp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Tasks  []map[string]any `json:"tasks"`
				Count  int              `json:"count"`
				Rounds int              `json:"rounds"`
				Usage  llm.Usage        `json:"usage"`
			}
			if err := json.Unmarshal(resp.Output, &out); err != nil {
				t.Fatal(err)
			}
			if out.Count != c.count || len(out.Tasks) != c.count || out.Rounds != 1 || out.Usage.InputTokens != llmfake.DefaultInputTokens {
				t.Fatalf("output = %s", resp.Output)
			}
			if resp.Usage.LLMInputTokens != out.Usage.InputTokens || resp.Usage.LLMOutputTokens != out.Usage.OutputTokens {
				t.Errorf("task usage = %+v, want the output's tokens %+v", resp.Usage, out.Usage)
			}
		})
	}
}

// TestGenerateExecutorNotConfiguredError: the failure matches llm.ErrNotConfigured.
func TestGenerateExecutorNotConfiguredError(t *testing.T) {
	h, _ := Catalog().Lookup(GenerateID)
	_, err := h.Execute(context.Background(), &executor.Request{Task: &task.Task{ID: "g"}, Inputs: json.RawMessage(`{"requirement":"r"}`)})
	if !errors.Is(err, llm.ErrNotConfigured) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(h.Info().Description, llm.ErrNotConfigured.Error()) {
		t.Error("the description does not say what happens without a model")
	}
}
