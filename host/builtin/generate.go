package builtin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/generate"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/task"
)

// GenerateID is the executor id of the tree generator built-in.
const GenerateID = generate.ExecutorID

const generateInputSchema = `{
  "type": "object",
  "properties": {
    "requirement": {"type": "string", "minLength": 1, "description": "What the task tree must do, in words"},
    "mode": {"type": "string", "enum": ["single", "multi"], "description": "single: one answer; multi: analyse, design, fill inputs, review with repair rounds (default single)"},
    "max_rounds": {"type": "integer", "minimum": 0, "maximum": 10, "description": "Repair rounds of multi mode (default 3; 0: none)"}
  },
  "required": ["requirement"]
}`

const generateOutputSchema = `{
  "type": "object",
  "properties": {
    "tasks": {"type": "array", "items": {"type": "object"}, "description": "The generated task tree, valid for tasks.create"},
    "count": {"type": "integer", "description": "Number of tasks"},
    "rounds": {"type": "integer", "description": "Answers checked; 1 when the first was valid"},
    "usage": {"type": "object", "description": "The model's tokens, also in the task's usage", "properties": {"input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}}}
  },
  "required": ["tasks", "count", "rounds", "usage"]
}`

// Option configures Catalog.
type Option func(*options)

type options struct {
	completer llm.Completer
	rest      executor.Catalog
	check     CheckFunc
}

// CheckFunc is tasks.create's check of a submission for a user (host/api SubmitPrepare's
// function: executors, schemas, ids already stored): nil when the tree would be
// accepted. It stores nothing and builds no task.
type CheckFunc func(ctx context.Context, tree []byte, userID string, ns task.Namespace) error

// WithGenerate gives generate_executor its model: c asks it, and the trees it makes
// may use the built-ins and the executors of rest (the plugin catalog the built-ins are
// chained in front of). Each tree is checked by check for the executing task's user
// (userID the task's user_id, ns zero). check is called only when the executor runs, so
// it may use the catalog this one is chained into. Without this option (or with a nil
// c), generate_executor is listed but every execution fails with llm.ErrNotConfigured's
// message; a nil check with a model fails every execution naming it.
func WithGenerate(c llm.Completer, rest executor.Catalog, check CheckFunc) Option {
	return func(o *options) { o.completer, o.rest, o.check = c, rest, check }
}

// generator is what generate_executor runs; *generate.Generator is one.
type generator interface {
	Generate(ctx context.Context, req generate.Request) (*generate.Result, error)
}

// newGenerate builds generate_executor over the built-in catalog self, which must be
// complete before the executor runs (it only lists and looks up at execution time).
func newGenerate(o options, self executor.Catalog) *builtinExecutor {
	var g generator
	var setupErr error
	switch {
	case o.completer != nil && o.check == nil:
		setupErr = errors.New("generate_executor: WithGenerate was given no check function (tasks.create's check)")
	case o.completer != nil:
		gen, err := generate.New(generate.Config{
			Completer: o.completer,
			Catalog:   executor.Chain(self, o.rest),
			Validate: func(ctx context.Context, tree []byte) error {
				return o.check(ctx, tree, "", task.Namespace(""))
			},
		})
		if err != nil {
			setupErr = err
		} else {
			g = gen
		}
	}
	return &builtinExecutor{
		info: &executor.Info{
			ID:   GenerateID,
			Name: "Generate Executor",
			Description: "Generates a task tree from a requirement in words by asking the operator's configured language model; " +
				"the tree uses the registered executors and passes the same validation as tasks.create for the task's user (executors, input schemas, ids already stored); it is not stored. " +
				"When the operator configured no language model, every execution fails with \"" + llm.ErrNotConfigured.Error() + "\".",
			Tags:         []string{"generation", "llm", "built-in"},
			Kind:         "builtin",
			InputSchema:  json.RawMessage(generateInputSchema),
			OutputSchema: json.RawMessage(generateOutputSchema),
			Compiled:     mustCompile(GenerateID, generateInputSchema),
		},
		run: func(ctx context.Context, req *executor.Request) (*executor.Response, error) {
			if setupErr != nil {
				return nil, fmt.Errorf("task %s: %w", taskID(req), setupErr)
			}
			return runGenerate(ctx, g, o.check, req)
		},
	}
}

// runGenerate decodes the inputs, generates and encodes the result.
func runGenerate(ctx context.Context, g generator, check CheckFunc, req *executor.Request) (*executor.Response, error) {
	if g == nil {
		return nil, fmt.Errorf("task %s: %w", taskID(req), llm.ErrNotConfigured)
	}
	start := time.Now()
	var in struct {
		Requirement string `json:"requirement"`
		Mode        string `json:"mode"`
		MaxRounds   *int   `json:"max_rounds"`
	}
	if t := bytes.TrimSpace(req.Inputs); len(t) > 0 {
		if err := json.Unmarshal(t, &in); err != nil {
			return nil, fmt.Errorf("task %s: inputs: %w", taskID(req), err)
		}
	}
	userID := ""
	if req.Task != nil {
		userID = req.Task.UserID
	}
	res, err := g.Generate(ctx, generate.Request{Requirement: in.Requirement, Mode: generate.Mode(in.Mode), MaxRounds: in.MaxRounds,
		// Checked as tasks.create would for the task's user.
		Validate: func(ctx context.Context, tree []byte) error {
			return check(ctx, tree, userID, task.Namespace(""))
		}})
	if err != nil {
		// The tokens spent before the failure count in the task's usage.
		var resp *executor.Response
		if res != nil {
			resp = &executor.Response{Usage: tokenUsage(usage(start, len(req.Inputs), 0), res.Usage)}
		}
		return resp, fmt.Errorf("task %s: %w", taskID(req), err)
	}
	raw, err := json.Marshal(map[string]any{
		"tasks": res.Tasks, "count": len(res.Tasks), "rounds": res.Rounds, "usage": res.Usage,
	})
	if err != nil {
		return nil, fmt.Errorf("task %s: encoding the result: %w", taskID(req), err)
	}
	return &executor.Response{Output: raw, Usage: tokenUsage(usage(start, len(req.Inputs), len(raw)), res.Usage)}, nil
}

// tokenUsage returns u with the model's tokens.
func tokenUsage(u task.Usage, tokens llm.Usage) task.Usage {
	u.LLMInputTokens, u.LLMOutputTokens = tokens.InputTokens, tokens.OutputTokens
	return u
}
