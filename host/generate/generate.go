package generate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/task"
)

// Mode chooses how a tree is asked for.
type Mode string

const (
	// Single asks once; an answer that fails validation fails the generation.
	Single Mode = "single"
	// Multi asks in four steps (analyse, design, fill inputs, review) and sends the
	// validator's problems back for up to Request.MaxRounds repair rounds.
	Multi Mode = "multi"
)

// Bounds of Request.MaxRounds.
const (
	DefaultMaxRounds = 3
	MaxMaxRounds     = 10
)

// DefaultMaxTokens bounds each answer when Config.MaxTokens is 0: a tree of a few dozen
// tasks with their inputs, far above some providers' own default (1024 on Anthropic).
const DefaultMaxTokens = 8192

// Lister lists the registered executors with their schemas; executor.Catalog is one.
type Lister interface {
	List() []*executor.Info
}

// ValidateFunc checks a submission (the JSON array of a tree) as tasks.create would,
// storing nothing. A failed check is an *apferr.Error whose Data["errors"] lists the
// problems (host/submit's errors); any other error (a look-up or context error) ends
// the generation. Give it host/api SubmitPrepare's function, or submit.Prepare with the
// same Options the server uses.
type ValidateFunc func(ctx context.Context, tree []byte) error

// Config is what a Generator needs. Completer, Catalog and Validate are required.
type Config struct {
	Completer llm.Completer
	Catalog   Lister
	Validate  ValidateFunc
	// NewID generates the ids of tasks that give none; default task.NewID.
	NewID func() string
	// MaxTokens bounds each answer (llm.Request.MaxTokens; 0: DefaultMaxTokens). An
	// answer the provider cut at this bound is a problem of its own (see the package doc).
	MaxTokens int
}

// Generator builds task trees from requirements. It is safe for concurrent use.
type Generator struct {
	cfg Config
}

// New checks cfg and returns a Generator.
func New(cfg Config) (*Generator, error) {
	switch {
	case cfg.Completer == nil:
		return nil, errors.New("generate: Config.Completer is required")
	case cfg.Catalog == nil:
		return nil, errors.New("generate: Config.Catalog is required")
	case cfg.Validate == nil:
		return nil, errors.New("generate: Config.Validate is required")
	}
	if cfg.NewID == nil {
		cfg.NewID = task.NewID
	}
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	return &Generator{cfg: cfg}, nil
}

// Request is one generation.
type Request struct {
	// Requirement is what the tree must do, in words. Required.
	Requirement string
	// Mode is Single or Multi; "" means Single.
	Mode Mode
	// MaxRounds bounds the repair rounds of Multi mode: nil is DefaultMaxRounds, 0 asks
	// for none (the first tree is checked and kept or refused), at most MaxMaxRounds.
	// Single mode has none and refuses a value other than 0.
	MaxRounds *int
	// UserID, when not empty, is set as every task's user_id before the tree is checked,
	// replacing any the model gave.
	UserID string
	// Validate, when not nil, checks this request's trees instead of Config.Validate:
	// give the check of the caller (its user and id namespace), as tasks.create would
	// save the tree for it.
	Validate ValidateFunc
}

// Result is a generated tree.
type Result struct {
	// Tasks is the tree, as tasks.create accepts it: every task has a fresh id (the model's are replaced), parent_id
	// holds ids, dependencies hold the names the model gave.
	Tasks []map[string]any
	// Rounds is how many answers were checked; 1 when the first was valid.
	Rounds int
	// Usage sums the tokens of every model call.
	Usage llm.Usage
}

// checkRequest validates r and applies its defaults; errors are -32602 naming the field.
func checkRequest(r Request) (Request, error) {
	if strings.TrimSpace(r.Requirement) == "" {
		return r, apferr.InvalidParam("requirement", "requirement is required", "a non-empty string", r.Requirement)
	}
	switch r.Mode {
	case "":
		r.Mode = Single
	case Single, Multi:
	default:
		return r, apferr.InvalidParam("mode", "unknown generation mode", "single or multi", string(r.Mode))
	}
	rounds := DefaultMaxRounds
	if r.MaxRounds != nil {
		rounds = *r.MaxRounds
	}
	switch {
	case rounds < 0 || rounds > MaxMaxRounds:
		return r, apferr.InvalidParam("max_rounds", "max_rounds is out of range", fmt.Sprintf("0-%d", MaxMaxRounds), rounds)
	case r.Mode == Single && r.MaxRounds != nil && rounds != 0:
		return r, apferr.InvalidParam("max_rounds", "single mode has no repair rounds", "0 or mode multi", rounds)
	}
	r.MaxRounds = &rounds
	return r, nil
}

// Rounds returns an int's address, for Request.MaxRounds.
func Rounds(n int) *int { return &n }

// Generate asks the model for a tree meeting req.Requirement and returns it once it
// passes Config.Validate. It fails with a *NoValidTreeError when the answers run out
// (see the package doc), with an *apferr.Error for a bad request, and with the
// Completer's or the validator's error, wrapped, when one ends the generation. A
// failure after the request was accepted still returns a Result, without Tasks, whose
// Rounds and Usage are what the generation spent (the tokens count even so).
func (g *Generator) Generate(ctx context.Context, req Request) (*Result, error) {
	req, err := checkRequest(req)
	if err != nil {
		return nil, err
	}
	s := &session{g: g, req: req, res: &Result{}, msgs: []llm.Message{{Role: llm.RoleSystem, Content: systemPrompt(g.cfg.Catalog.List())}}}
	run := s.multi
	if req.Mode == Single {
		run = s.single
	}
	res, err := run(ctx, req)
	if err != nil {
		return &Result{Rounds: s.res.Rounds, Usage: s.res.Usage}, err
	}
	return res, nil
}

// session is one generation's conversation and running totals.
type session struct {
	g    *Generator
	req  Request
	cut  bool // the last answer was cut at Config.MaxTokens
	msgs []llm.Message
	res  *Result
}

// ask appends prompt as the user's turn, asks the model and appends its answer.
func (s *session) ask(ctx context.Context, step, prompt string) (string, error) {
	s.msgs = append(s.msgs, llm.Message{Role: llm.RoleUser, Content: prompt})
	resp, err := s.g.cfg.Completer.Complete(ctx, llm.Request{Messages: append([]llm.Message(nil), s.msgs...), MaxTokens: s.g.cfg.MaxTokens})
	if err != nil {
		return "", fmt.Errorf("generate: %s: %w", step, err)
	}
	s.res.Usage.InputTokens += resp.Usage.InputTokens
	s.res.Usage.OutputTokens += resp.Usage.OutputTokens
	s.msgs = append(s.msgs, llm.Message{Role: llm.RoleAssistant, Content: resp.Content})
	s.cut = resp.StopReason == "max_tokens" || resp.StopReason == "length"
	return resp.Content, nil
}

// check parses, fixes and validates an answer: the tree when valid, else its problems;
// err only for an error that ends the generation.
func (s *session) check(ctx context.Context, answer string) ([]map[string]any, []apferr.Problem, error) {
	s.res.Rounds++
	if s.cut {
		return nil, []apferr.Problem{answerProblem(fmt.Sprintf("the answer was cut at %d tokens: give a shorter tree", s.g.cfg.MaxTokens))}, nil
	}
	tasks, err := parseAnswer(answer)
	if err != nil {
		return nil, []apferr.Problem{answerProblem(err.Error())}, nil
	}
	tasks = fix(tasks, s.g.cfg.NewID)
	if s.req.UserID != "" {
		for _, t := range tasks {
			t["user_id"] = s.req.UserID
		}
	}
	data, err := marshalTasks(tasks)
	if err != nil {
		return nil, []apferr.Problem{answerProblem(err.Error())}, nil
	}
	validate := s.g.cfg.Validate
	if s.req.Validate != nil {
		validate = s.req.Validate
	}
	err = validate(ctx, data)
	if err == nil {
		return tasks, nil, nil
	}
	if ps := problemsOf(err); ps != nil {
		return nil, ps, nil
	}
	return nil, nil, fmt.Errorf("generate: validate: %w", err)
}

func (s *session) single(ctx context.Context, req Request) (*Result, error) {
	answer, err := s.ask(ctx, "answer", singlePrompt(req.Requirement))
	if err != nil {
		return nil, err
	}
	return s.finish(s.check(ctx, answer))
}

func (s *session) multi(ctx context.Context, req Request) (*Result, error) {
	if _, err := s.ask(ctx, "analyse", analysePrompt(req.Requirement)); err != nil {
		return nil, err
	}
	if _, err := s.ask(ctx, "design", designPrompt); err != nil {
		return nil, err
	}
	answer, err := s.ask(ctx, "fill inputs", fillPrompt)
	if err != nil {
		return nil, err
	}
	for round := 0; ; round++ {
		tasks, problems, err := s.check(ctx, answer)
		if err != nil || problems == nil || round == *req.MaxRounds {
			return s.finish(tasks, problems, err)
		}
		if answer, err = s.ask(ctx, "review", reviewPrompt(describeProblems(problems))); err != nil {
			return nil, err
		}
	}
}

func (s *session) finish(tasks []map[string]any, problems []apferr.Problem, err error) (*Result, error) {
	switch {
	case err != nil:
		return nil, err
	case problems != nil:
		return nil, &NoValidTreeError{Rounds: s.res.Rounds, Problems: problems, Usage: s.res.Usage}
	}
	s.res.Tasks = tasks
	return s.res, nil
}
