package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/generate"
	"github.com/apflow-wasm/apflow/host/llm"
)

// Generator makes task trees from requirements for tasks.generate; *generate.Generator
// is one. Give it the server's own validation (SubmitPrepare), so a generated tree is
// one tasks.create accepts.
type Generator interface {
	Generate(ctx context.Context, req generate.Request) (*generate.Result, error)
}

// generateParams are the params of tasks.generate (schemas/api/tasks.generate.json).
type generateParams struct {
	Requirement    string `json:"requirement"`
	UserID         string `json:"user_id"`
	Save           bool   `json:"save"`
	LLMProvider    string `json:"llm_provider"`
	Model          string `json:"model"`
	GenerationMode string `json:"generation_mode"`
	MaxRounds      *int   `json:"max_rounds"`
}

// generationModes maps apflow's generation_mode values to generate's modes.
var generationModes = map[string]generate.Mode{"": generate.Single, "single_shot": generate.Single, "multi_phase": generate.Multi}

func (s *Server) tasksGenerate(ctx context.Context, c *call) (any, error) {
	var p generateParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	switch {
	case p.LLMProvider != "":
		return nil, apferr.InvalidParam("llm_provider", "not supported: the operator config chooses the provider", "absent", p.LLMProvider)
	case p.Model != "":
		return nil, apferr.InvalidParam("model", "not supported: the operator config chooses the model", "absent", p.Model)
	}
	if s.cfg.Generator == nil {
		return nil, generateError(llm.ErrNotConfigured, nil)
	}
	cl := callerFrom(ctx)
	if p.UserID != "" && cl.authn && !cl.admin && p.UserID != cl.sub {
		return nil, apferr.InvalidParam("user_id", "a user can only generate tasks for itself", cl.sub, p.UserID)
	}
	// The model's per-user token budget counts against the caller.
	ctx = llm.WithCaller(ctx, llm.Caller{UserID: cl.sub})
	res, err := s.cfg.Generator.Generate(ctx, generate.Request{Requirement: p.Requirement, Mode: generationModes[p.GenerationMode],
		MaxRounds: p.MaxRounds, UserID: p.UserID,
		// Checked as tasks.create saves it for this caller (its user and id namespace).
		Validate: func(ctx context.Context, tree []byte) error {
			_, err := s.prepareTree(ctx, tree)
			return err
		}})
	if err != nil {
		return nil, generateError(err, res)
	}
	out := map[string]any{"tasks": res.Tasks, "count": len(res.Tasks), "rounds": res.Rounds, "usage": res.Usage,
		"message": fmt.Sprintf("generated %d task(s) in %d round(s)", len(res.Tasks), res.Rounds)}
	if !p.Save {
		return out, nil
	}
	data, err := json.Marshal(res.Tasks)
	if err != nil {
		return nil, fmt.Errorf("tasks.generate: encoding the tree: %w", err)
	}
	stored, err := s.submitTasks(ctx, data)
	if err != nil {
		return nil, err
	}
	out["root_task_id"] = stored.RootID()
	out["message"] = fmt.Sprintf("generated and saved %d task(s) in %d round(s)", stored.Len(), res.Rounds)
	return out, nil
}

// generateError maps a generation's failure to the API's errors: a request error keeps
// its code; no valid tree is -32012 with data {errors, rounds}; the model's failures
// (not configured, budget, provider, timeout) are -32603 with data.reason naming them.
// Both carry data.usage, the tokens spent, when res (Generate's partial result) has it.
func generateError(err error, res *generate.Result) error {
	var nv *generate.NoValidTreeError
	if errors.As(err, &nv) {
		return apferr.New(apferr.TreeValidation, err.Error()).WithData(map[string]any{"errors": nv.Problems, "rounds": nv.Rounds, "usage": nv.Usage})
	}
	if ae := apferr.As(err); ae != nil {
		return err
	}
	reason := ""
	switch {
	case errors.Is(err, llm.ErrNotConfigured):
		return apferr.New(apferr.Internal, "tasks.generate is not configured: "+err.Error()+" (the operator config has no llm section)").
			WithData(map[string]any{"reason": "llm_not_configured"})
	case errors.Is(err, llm.ErrBudget):
		reason = "llm_budget"
	case errors.Is(err, context.DeadlineExceeded):
		reason = "llm_timeout"
	case errors.Is(err, llm.ErrProvider):
		reason = "llm_provider"
	default:
		return err
	}
	data := map[string]any{"reason": reason}
	if res != nil {
		data["usage"] = res.Usage
	}
	return apferr.New(apferr.Internal, err.Error()).WithData(data)
}
