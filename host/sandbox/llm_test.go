package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/task"
)

// fakeCompleter answers every request with resp, or fails with err; block makes it wait
// for the call's context to end instead. It records the requests it got.
type fakeCompleter struct {
	resp    llm.Response
	err     error
	block   bool
	started chan struct{}

	mu   sync.Mutex
	reqs []llm.Request
	ctxs []context.Context
}

func (f *fakeCompleter) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	if f.block {
		close(f.started)
		<-ctx.Done()
		return nil, fmt.Errorf("%w: %v", llm.ErrProvider, ctx.Err())
	}
	if f.err != nil {
		return nil, f.err
	}
	resp := f.resp
	return &resp, nil
}

func (f *fakeCompleter) requests() []llm.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]llm.Request(nil), f.reqs...)
}

// llmSetup returns the llm_proxy fixture loaded as plugin id under a runtime whose
// Completer is c (nil: none) and which grants llm to the plugin "writer" only.
func llmSetup(t *testing.T, c llm.Completer, id string) *Module {
	t.Helper()
	cfg := Config{Grants: func(id string) Grants { return Grants{LLM: id == "writer"} }}
	if c != nil {
		cfg.LLM = c
	}
	rt := setup(t, cfg)
	m, err := rt.Load(context.Background(), wasmFile(t, "llm_proxy"), id+".wasm")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m
}

// llmCall runs the fixture with input and returns the host's answer and the usage.
func llmCall(t *testing.T, ctx context.Context, m *Module, input string) (map[string]any, task.Usage) {
	t.Helper()
	resp, err := m.Execute(ctx, &executor.Request{Task: &task.Task{ID: "t1"}, Inputs: json.RawMessage(input)})
	if err != nil {
		t.Fatalf("Execute %s: %v", input, err)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Output, &out); err != nil {
		t.Fatalf("answer %s: %v", resp.Output, err)
	}
	return out, resp.Usage
}

const llmHello = `{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":50,"temperature":0.5,"json":true}`

var fakeAnswer = llm.Response{Content: "hello", Model: "fake-1", StopReason: "end_turn",
	Usage: llm.Usage{InputTokens: 12, OutputTokens: 3}}

func TestLLMComplete(t *testing.T) {
	budget := fmt.Errorf("task t1: %w: 100 of 100 tokens used", llm.ErrBudget)
	for _, c := range []struct {
		name      string
		completer llm.Completer
		plugin    string
		input     string
		want      string // the whole answer, or
		code, msg string // an error's code and part of its message
	}{
		{name: "granted", completer: &fakeCompleter{resp: fakeAnswer}, plugin: "writer", input: `{"r":` + llmHello + `}`,
			want: `{"content":"hello","model":"fake-1","stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":3}}`},
		{name: "not granted", completer: &fakeCompleter{resp: fakeAnswer}, plugin: "reader", input: `{"r":` + llmHello + `}`,
			code: LLMCodeNotGranted, msg: "capability llm not granted to plugin reader"},
		{name: "not configured", plugin: "writer", input: `{"r":` + llmHello + `}`,
			code: LLMCodeNotConfigured, msg: "no provider is configured"},
		{name: "configured nowhere", completer: &fakeCompleter{err: fmt.Errorf("openai: %w", llm.ErrNotConfigured)}, plugin: "writer",
			input: `{"r":` + llmHello + `}`, code: LLMCodeNotConfigured, msg: "openai"},
		{name: "budget", completer: &fakeCompleter{err: budget}, plugin: "writer", input: `{"r":` + llmHello + `}`,
			code: LLMCodeBudget, msg: "100 of 100 tokens used"},
		{name: "provider", completer: &fakeCompleter{err: fmt.Errorf("%w: HTTP 500", llm.ErrProvider)}, plugin: "writer",
			input: `{"r":` + llmHello + `}`, code: LLMCodeProvider, msg: "HTTP 500"},
		{name: "other error", completer: &fakeCompleter{err: errors.New("boom")}, plugin: "writer",
			input: `{"r":` + llmHello + `}`, code: LLMCodeProvider, msg: "boom"},
		{name: "not JSON", completer: &fakeCompleter{resp: fakeAnswer}, plugin: "writer", input: `{"r":"xx"}`,
			code: LLMCodeInvalidRequest, msg: "invalid request"},
		{name: "unknown field", completer: &fakeCompleter{resp: fakeAnswer}, plugin: "writer",
			input: `{"r":{"messages":[{"role":"user","content":"hi"}],"model":"x"}}`, code: LLMCodeInvalidRequest, msg: `unknown field "model"`},
		{name: "no message", completer: &fakeCompleter{resp: fakeAnswer}, plugin: "writer",
			input: `{"r":{"messages":[]}}`, code: LLMCodeInvalidRequest, msg: "messages is empty"},
		{name: "bad role", completer: &fakeCompleter{resp: fakeAnswer}, plugin: "writer",
			input: `{"r":{"messages":[{"role":"tool","content":"hi"}]}}`, code: LLMCodeInvalidRequest, msg: `messages[0].role "tool"`},
		{name: "negative max_tokens", completer: &fakeCompleter{resp: fakeAnswer}, plugin: "writer",
			input: `{"r":{"messages":[{"role":"user","content":"hi"}],"max_tokens":-1}}`, code: LLMCodeInvalidRequest, msg: "max_tokens -1"},
		{name: "outside memory", completer: &fakeCompleter{resp: fakeAnswer}, plugin: "writer", input: `{"x":0}`,
			code: LLMCodeInvalidRequest, msg: "outside the plugin's memory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := llmSetup(t, c.completer, c.plugin)
			got, usage := llmCall(t, context.Background(), m, c.input)
			if c.want != "" {
				wantAnswer(t, "answer", got, c.want)
				if usage.LLMInputTokens != 12 || usage.LLMOutputTokens != 3 {
					t.Fatalf("usage = %+v, want 12 input and 3 output tokens", usage)
				}
				return
			}
			wantCode(t, "answer", got, c.code, c.msg)
			if usage.LLMInputTokens != 0 || usage.LLMOutputTokens != 0 {
				t.Fatalf("usage of a refused call = %+v, want no tokens", usage)
			}
			f, _ := c.completer.(*fakeCompleter)
			if refused := c.code == LLMCodeNotGranted || c.code == LLMCodeInvalidRequest; refused && len(f.requests()) != 0 {
				t.Fatalf("the Completer was asked %v", f.requests())
			}
		})
	}
}

// TestLLMCompleteRequest: the Completer gets the guest's request as decoded, and the
// context of the guest call (what the caller put in it is there).
func TestLLMCompleteRequest(t *testing.T) {
	f := &fakeCompleter{resp: fakeAnswer}
	m := llmSetup(t, f, "writer")
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "caller")
	llmCall(t, ctx, m, `{"r":`+llmHello+`}`)
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %v, want 1", reqs)
	}
	got, _ := json.Marshal(reqs[0])
	if string(got) != llmHello {
		t.Fatalf("request = %s, want %s", got, llmHello)
	}
	if v := f.ctxs[0].Value(key{}); v != "caller" {
		t.Fatalf("the Completer's context carries %v, want the caller's value", v)
	}
	if _, ok := f.ctxs[0].Deadline(); !ok {
		t.Fatal("the Completer's context has no deadline, want the task's")
	}
}

// TestLLMUsageSums: the usage of a call sums the tokens of its llm_complete calls.
func TestLLMUsageSums(t *testing.T) {
	m := llmSetup(t, &fakeCompleter{resp: fakeAnswer}, "writer")
	_, usage := llmCall(t, context.Background(), m, `{"t":`+llmHello+`}`)
	if usage.LLMInputTokens != 24 || usage.LLMOutputTokens != 6 {
		t.Fatalf("usage = %+v, want 24 input and 6 output tokens", usage)
	}
	if usage.HostCalls != 2 {
		t.Fatalf("host_calls = %d, want 2", usage.HostCalls)
	}
	b, _ := json.Marshal(usage)
	mustContain(t, "usage JSON", string(b), `"llm_input_tokens":24,"llm_output_tokens":6`)
}

// TestLLMCompleteCancelled: a cancel during llm_complete ends the call there, cancelled,
// and the guest does not resume.
func TestLLMCompleteCancelled(t *testing.T) {
	f := &fakeCompleter{block: true, started: make(chan struct{})}
	m := llmSetup(t, f, "writer")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.started
		cancel()
	}()
	_, err := m.Execute(ctx, &executor.Request{Task: &task.Task{ID: "t1"}, Inputs: json.RawMessage(`{"r":` + llmHello + `}`)})
	var se *Error
	if !errors.As(err, &se) || se.Kind != KindCancelled {
		t.Fatalf("err = %v, want a cancelled call", err)
	}
}

// TestLLMCompleteDeadline: the task's deadline ends a call blocked in llm_complete, timed out.
func TestLLMCompleteDeadline(t *testing.T) {
	f := &fakeCompleter{block: true, started: make(chan struct{})}
	m := llmSetup(t, f, "writer")
	_, err := m.Execute(context.Background(), &executor.Request{Task: &task.Task{ID: "t1"},
		Inputs: json.RawMessage(`{"r":` + llmHello + `}`), Limits: task.Limits{TimeoutMS: 50}})
	var se *Error
	if !errors.As(err, &se) || se.Kind != KindTimeout {
		t.Fatalf("err = %v, want a timed out call", err)
	}
}
