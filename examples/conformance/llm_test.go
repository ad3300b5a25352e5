package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// echoCompleter answers "echo: " and the last message, with one input token per
// message and 2 output tokens; a last message "budget" fails with llm.ErrBudget. It
// records the requests it got.
type echoCompleter struct {
	mu   sync.Mutex
	reqs []llm.Request
}

func (c *echoCompleter) Complete(_ context.Context, req llm.Request) (*llm.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, req)
	c.mu.Unlock()
	last := req.Messages[len(req.Messages)-1].Content
	if last == "budget" {
		return nil, fmt.Errorf("task t: %w", llm.ErrBudget)
	}
	return &llm.Response{Content: "echo: " + last, Model: "fake-1", StopReason: "end_turn",
		Usage: llm.Usage{InputTokens: int64(len(req.Messages)), OutputTokens: 2}}, nil
}

// TestKitsLLM runs each kit's llm_complete wrapper through the real host with a fake
// Completer: every kit sends the same request (README.md, "llm") and returns the same
// answer, the task's usage counts the tokens, a budget refusal ends the task with
// llm_budget_exceeded, and without the grant with llm_not_granted.
func TestKitsLLM(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("building four wasm plugins is slow; skipped with -short")
	}
	const wantReq = `{"messages":[{"role":"system","content":"conformance"},{"role":"user","content":"hi"}],"max_tokens":16,"temperature":0.5,"json":true}`
	const want = `{"content":"echo: hi","model":"fake-1","stop_reason":"end_turn","input_tokens":2,"output_tokens":2}`
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			wasm, err := os.ReadFile(buildCase(t, "llm", lang, t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			c := &echoCompleter{}
			rt, err := sandbox.New(ctx, sandbox.Config{LLM: c, Grants: func(id string) sandbox.Grants {
				return sandbox.Grants{LLM: id == "llm_"+lang}
			}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rt.Close(ctx) })
			m, err := rt.Load(ctx, wasm, "llm_"+lang+".wasm")
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			run := func(prompt string) (string, task.Usage) {
				t.Helper()
				in, _ := json.Marshal(map[string]string{"prompt": prompt})
				resp, err := m.Execute(ctx, &executor.Request{Task: &task.Task{ID: "t"}, Inputs: in})
				if err != nil {
					t.Fatalf("%s: %v", prompt, err)
				}
				var res struct {
					Error *string `json:"error"`
					Code  string  `json:"code"`
				}
				_ = json.Unmarshal(resp.Output, &res)
				if res.Error != nil {
					return res.Code, resp.Usage
				}
				return string(resp.Output), resp.Usage
			}
			got, usage := run("hi")
			if got != want {
				t.Errorf("answer %s, want %s", got, want)
			}
			if usage.LLMInputTokens != 2 || usage.LLMOutputTokens != 2 {
				t.Errorf("usage %+v, want 2 input and 2 output tokens", usage)
			}
			if len(c.reqs) != 1 {
				t.Fatalf("the Completer got %d requests, want 1", len(c.reqs))
			}
			if b, _ := json.Marshal(c.reqs[0]); string(b) != wantReq {
				t.Errorf("request %s, want %s", b, wantReq)
			}
			if got, _ := run("budget"); got != "llm_budget_exceeded" {
				t.Errorf("over budget: %s, want llm_budget_exceeded", got)
			}
			// The grant is by the plugin's id: a runtime that grants nothing refuses it.
			nort, err := sandbox.New(ctx, sandbox.Config{LLM: c})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = nort.Close(ctx) })
			nm, err := nort.Load(ctx, wasm, "llm_"+lang+".wasm")
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			resp, err := nm.Execute(ctx, &executor.Request{Task: &task.Task{ID: "t"}, Inputs: json.RawMessage(`{"prompt":"hi"}`)})
			if err != nil {
				t.Fatal(err)
			}
			var res struct{ Code string }
			_ = json.Unmarshal(resp.Output, &res)
			if res.Code != "llm_not_granted" {
				t.Errorf("without the grant: %s, want code llm_not_granted", resp.Output)
			}
		})
	}
}
