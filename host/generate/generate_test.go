package generate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/llm"
)

const (
	goodTree = "Here is the tree:\n```json\n" + `[
  {"name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["home", "docs"]},
  {"name": "home", "parent_id": "report", "schemas": {"method": "fetch_executor"}, "inputs": {"url": "https://example.com"}},
  {"name": "docs", "parent_id": "report", "schemas": {"method": "fetch_executor"}, "inputs": {"url": "https://example.com/docs"}}
]` + "\n```\n"
	cycleTree = `[
  {"name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["a"]},
  {"name": "a", "parent_id": "report", "schemas": {"method": "fetch_executor"}, "inputs": {"url": "u"}, "dependencies": ["b"]},
  {"name": "b", "parent_id": "report", "schemas": {"method": "fetch_executor"}, "inputs": {"url": "u"}, "dependencies": ["a"]}
]`
	unknownTree = `[{"name": "scrape", "schemas": {"method": "scrape_executor"}, "inputs": {}}]`
	badInputs   = `[
  {"name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["count"]},
  {"name": "count", "parent_id": "report", "schemas": {"method": "count_executor"}, "inputs": {"text": 7, "min": -1}}
]`
	fixedInputs = `[
  {"name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["count"]},
  {"name": "count", "parent_id": "report", "schemas": {"method": "count_executor"}, "inputs": {"text": "seven", "min": 1}}
]`
	twoRoots = `{"tasks": [
  {"name": "home", "schemas": {"method": "fetch_executor"}, "inputs": {"url": "https://example.com"}},
  {"name": "count", "schemas": {"method": "count_executor"}, "inputs": {"text": "x"}},
  {"name": "sub", "parent_id": "home", "schemas": {"method": "count_executor"}, "inputs": {"text": "y"}}
]}`
)

// phases are the three answers of multi mode before the first tree is checked.
func phases(tree string) []step {
	return []step{{content: "1. fetch the pages in parallel 2. aggregate"}, {content: "[]"}, {content: tree}}
}

func TestGenerate(t *testing.T) {
	cases := []struct {
		name     string
		req      Request
		steps    []step
		rounds   int
		calls    int
		wantErr  error
		problems []string // substrings of the last problems, in order
		check    func(t *testing.T, r *Result)
	}{
		{name: "good tree single", req: Request{Requirement: "fetch two pages"}, steps: []step{{content: goodTree}}, rounds: 1, calls: 1,
			check: func(t *testing.T, r *Result) {
				if len(r.Tasks) != 3 || r.Tasks[0]["id"] != "id-1" || r.Tasks[1]["parent_id"] != "id-1" {
					t.Errorf("tasks = %v", r.Tasks)
				}
			}},
		{name: "good tree multi", req: Request{Requirement: "fetch two pages", Mode: Multi}, steps: phases(goodTree), rounds: 1, calls: 3},
		{name: "cycle repaired in round 2", req: Request{Requirement: "r", Mode: Multi}, steps: append(phases(cycleTree), step{content: goodTree}), rounds: 2, calls: 4},
		{name: "cycle single fails", req: Request{Requirement: "r"}, steps: []step{{content: cycleTree}}, rounds: 1, calls: 1, wantErr: ErrNoValidTree, problems: []string{"cycle"}},
		{name: "unknown executor repaired", req: Request{Requirement: "r", Mode: Multi}, steps: append(phases(unknownTree), step{content: goodTree}), rounds: 2, calls: 4},
		{name: "unknown executor single", req: Request{Requirement: "r"}, steps: []step{{content: unknownTree}}, rounds: 1, calls: 1, wantErr: ErrNoValidTree, problems: []string{`"scrape_executor" is not registered`}},
		{name: "schema-invalid inputs repaired", req: Request{Requirement: "r", Mode: Multi}, steps: append(phases(badInputs), step{content: fixedInputs}), rounds: 2, calls: 4},
		{name: "malformed JSON repaired", req: Request{Requirement: "r", Mode: Multi}, steps: append(phases("```json\n[{\"name\": \"a\",]\n```"), step{content: goodTree}), rounds: 2, calls: 4},
		{name: "malformed JSON single", req: Request{Requirement: "r"}, steps: []step{{content: "I cannot do that."}}, rounds: 1, calls: 1, wantErr: ErrNoValidTree, problems: []string{"answer: the answer holds no JSON array"}},
		{name: "never converges", req: Request{Requirement: "r", Mode: Multi, MaxRounds: Rounds(2)}, steps: append(phases(cycleTree), step{content: unknownTree}, step{content: cycleTree}), rounds: 3, calls: 5, wantErr: ErrNoValidTree, problems: []string{"cycle"}},
		{name: "no repair rounds asked", req: Request{Requirement: "r", Mode: Multi, MaxRounds: Rounds(0)}, steps: phases(cycleTree), rounds: 1, calls: 3, wantErr: ErrNoValidTree, problems: []string{"cycle"}},
		{name: "single mode takes 0", req: Request{Requirement: "r", MaxRounds: Rounds(0)}, steps: []step{{content: goodTree}}, rounds: 1, calls: 1},
		{name: "cut answer single", req: Request{Requirement: "r"}, steps: []step{{content: goodTree, stop: "max_tokens"}}, rounds: 1, calls: 1, wantErr: ErrNoValidTree, problems: []string{"the answer was cut at 8192 tokens"}},
		{name: "cut answer repaired", req: Request{Requirement: "r", Mode: Multi}, steps: append(phases(goodTree)[:2], step{content: "[{", stop: "length"}, step{content: goodTree}), rounds: 2, calls: 4},
		{name: "deadline", req: Request{Requirement: "r", Mode: Multi}, steps: []step{{content: "ok"}, {err: context.DeadlineExceeded}}, calls: 2, wantErr: context.DeadlineExceeded},
		{name: "budget", req: Request{Requirement: "r", Mode: Multi}, steps: append(phases(cycleTree), step{err: fmt.Errorf("%w: 1000 of 1000 tokens used", llm.ErrBudget)}), calls: 4, wantErr: llm.ErrBudget},
		{name: "not configured", req: Request{Requirement: "r"}, steps: []step{{err: llm.ErrNotConfigured}}, calls: 1, wantErr: llm.ErrNotConfigured},
		{name: "several roots wrapped", req: Request{Requirement: "r"}, steps: []step{{content: twoRoots}}, rounds: 1, calls: 1,
			check: func(t *testing.T, r *Result) {
				root := r.Tasks[0]
				if root["name"] != "root" || root["schemas"].(map[string]any)["method"] != AggregatorID {
					t.Fatalf("root = %v", root)
				}
				if deps := fmt.Sprint(root["dependencies"]); deps != "[home count]" {
					t.Errorf("root dependencies = %s", deps)
				}
				if r.Tasks[1]["parent_id"] != root["id"] || r.Tasks[2]["parent_id"] != root["id"] {
					t.Errorf("former roots' parent_id = %v, %v", r.Tasks[1]["parent_id"], r.Tasks[2]["parent_id"])
				}
				if r.Tasks[3]["parent_id"] != r.Tasks[1]["id"] {
					t.Errorf("parent_id by name not repaired: %v", r.Tasks[3]["parent_id"])
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, fake := setup(t, setupOpts{steps: c.steps})
			res, err := g.Generate(context.Background(), c.req)
			if fake.calls() != c.calls {
				t.Errorf("model calls = %d, want %d", fake.calls(), c.calls)
			}
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				// The tokens spent before the failure are kept.
				if want := int64(10 * c.calls); c.calls > 0 && !errors.Is(err, llm.ErrNotConfigured) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, llm.ErrBudget) {
					if res == nil || res.Usage.InputTokens != want || res.Tasks != nil {
						t.Errorf("partial result = %+v, want usage of %d input tokens", res, want)
					}
				}
				if errors.Is(err, llm.ErrBudget) && (res == nil || res.Usage.InputTokens != int64(10*(c.calls-1))) {
					t.Errorf("budget: partial result = %+v, want the tokens of %d calls", res, c.calls-1)
				}
				var nv *NoValidTreeError
				if errors.As(err, &nv) {
					if nv.Rounds != c.rounds {
						t.Errorf("rounds = %d, want %d", nv.Rounds, c.rounds)
					}
					if nv.Usage != res.Usage {
						t.Errorf("NoValidTreeError.Usage = %+v, want %+v", nv.Usage, res.Usage)
					}
					msg := err.Error()
					for _, p := range c.problems {
						if !strings.Contains(msg, p) {
							t.Errorf("error %q does not name %q", msg, p)
						}
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Rounds != c.rounds {
				t.Errorf("rounds = %d, want %d", res.Rounds, c.rounds)
			}
			if want := int64(10 * c.calls); res.Usage.InputTokens != want {
				t.Errorf("input tokens = %d, want %d", res.Usage.InputTokens, want)
			}
			if c.check != nil {
				c.check(t, res)
			}
		})
	}
}

// TestDefaultMaxTokens: without Config.MaxTokens each answer is bounded by
// DefaultMaxTokens, not the provider's default.
func TestDefaultMaxTokens(t *testing.T) {
	g, fake := setup(t, setupOpts{steps: []step{{content: goodTree}}})
	if _, err := g.Generate(context.Background(), Request{Requirement: "r"}); err != nil {
		t.Fatal(err)
	}
	if got := fake.reqs[0].MaxTokens; got != DefaultMaxTokens || DefaultMaxTokens != 8192 {
		t.Errorf("MaxTokens = %d, want 8192", got)
	}
}

// TestReviewSendsProblemsBack: the repair round's prompt lists the validator's problems,
// and the conversation keeps every earlier turn.
func TestReviewSendsProblemsBack(t *testing.T) {
	g, fake := setup(t, setupOpts{steps: append(phases(cycleTree), step{content: goodTree})})
	if _, err := g.Generate(context.Background(), Request{Requirement: "r", Mode: Multi}); err != nil {
		t.Fatal(err)
	}
	last := fake.reqs[3].Messages
	if len(last) != 8 {
		t.Fatalf("review request has %d messages, want 8 (system + 3 turns + review)", len(last))
	}
	review := last[len(last)-1].Content
	if !strings.Contains(review, "cycle") || !strings.Contains(review, "dependencies") {
		t.Errorf("review prompt does not carry the problems:\n%s", review)
	}
}

func TestGenerateRejectsBadRequests(t *testing.T) {
	cases := []struct {
		req   Request
		field string
	}{
		{Request{}, "requirement"},
		{Request{Requirement: "r", Mode: "both"}, "mode"},
		{Request{Requirement: "r", Mode: Multi, MaxRounds: Rounds(11)}, "max_rounds"},
		{Request{Requirement: "r", MaxRounds: Rounds(2)}, "max_rounds"},
	}
	for _, c := range cases {
		g, fake := setup(t, setupOpts{})
		_, err := g.Generate(context.Background(), c.req)
		ae := apferr.As(err)
		if ae == nil || ae.Code != apferr.InvalidParams || !strings.Contains(ae.Message, c.field) {
			t.Errorf("%+v: err = %v, want -32602 naming %s", c.req, err, c.field)
		}
		if fake.calls() != 0 {
			t.Errorf("%+v: the model was asked", c.req)
		}
	}
}

// TestValidateErrorEndsGeneration: an error of the validator that is not a validation
// failure (a store look-up) is returned as is, not sent to the model.
func TestValidateErrorEndsGeneration(t *testing.T) {
	boom := errors.New("store unavailable")
	g, err := New(Config{Completer: &scripted{steps: phases(goodTree)}, Catalog: newTestCatalog(t),
		Validate: func(context.Context, []byte) error { return boom }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Generate(context.Background(), Request{Requirement: "r", Mode: Multi}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

// blocking is a Completer that answers nothing until its context ends.
type blocking struct{}

func (blocking) Complete(ctx context.Context, _ llm.Request) (*llm.Response, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestGenerateTimeout: a generation bounded by a context deadline ends with an error
// matching context.DeadlineExceeded when the model is still thinking.
func TestGenerateTimeout(t *testing.T) {
	g, err := New(Config{Completer: blocking{}, Catalog: newTestCatalog(t), Validate: func(context.Context, []byte) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := g.Generate(ctx, Request{Requirement: "r", Mode: Multi}); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "analyse") {
		t.Fatalf("err = %v", err)
	}
}
