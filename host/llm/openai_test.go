package llm_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/internal/llmfake"
)

func TestOpenAIRequestShape(t *testing.T) {
	msgs := []llm.Message{{Role: llm.RoleSystem, Content: "be terse"}, {Role: llm.RoleUser, Content: "hi"}}
	tests := []struct {
		name      string
		edit      func(*llm.Config)
		req       llm.Request
		wantAuth  string
		wantMax   int
		wantJSON  bool
		wantTemp  *float64
		wantField map[string]bool // top-level keys present (true) or absent (false)
	}{
		{name: "key and defaults", req: llm.Request{Messages: msgs}, wantAuth: "Bearer " + llmfake.Key,
			wantField: map[string]bool{"max_tokens": false, "response_format": false, "temperature": false}},
		{name: "no key: no Authorization", edit: func(c *llm.Config) { c.APIKey = "" }, req: llm.Request{Messages: msgs}},
		{name: "configured max_tokens", edit: func(c *llm.Config) { c.MaxTokens = 300 }, req: llm.Request{Messages: msgs}, wantAuth: "Bearer " + llmfake.Key, wantMax: 300},
		{name: "request max_tokens wins", edit: func(c *llm.Config) { c.MaxTokens = 300 }, req: llm.Request{Messages: msgs, MaxTokens: 7}, wantAuth: "Bearer " + llmfake.Key, wantMax: 7},
		{name: "JSON mode and temperature", req: llm.Request{Messages: msgs, JSON: true, Temperature: ptr(0.0)}, wantAuth: "Bearer " + llmfake.Key, wantJSON: true, wantTemp: ptr(0.0),
			wantField: map[string]bool{"temperature": true, "response_format": true}},
		{name: "key from api_key_env", edit: func(c *llm.Config) { c.APIKey, c.APIKeyEnv = "", "SOME_KEY" }, req: llm.Request{Messages: msgs}, wantAuth: "Bearer from-env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := llmfake.New(t)
			s.Reply("ok")
			cfg := s.Config(llm.ProviderOpenAI)
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			c, err := llm.New(cfg, func(k string) string {
				if k == "SOME_KEY" {
					return "from-env"
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Complete(context.Background(), tt.req); err != nil {
				t.Fatal(err)
			}
			got := s.Requests()
			if len(got) != 1 {
				t.Fatalf("requests = %d, want 1", len(got))
			}
			r := got[0]
			if r.Path != "/v1/chat/completions" || r.Format != llm.ProviderOpenAI {
				t.Errorf("path %q format %q", r.Path, r.Format)
			}
			if a := r.Header.Get("Authorization"); a != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", a, tt.wantAuth)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if r.Model != llmfake.Model {
				t.Errorf("model = %q", r.Model)
			}
			if len(r.Request.Messages) != 2 || r.Request.Messages[0] != msgs[0] || r.Request.Messages[1] != msgs[1] {
				t.Errorf("messages = %+v (system stays in messages)", r.Request.Messages)
			}
			if r.System != "" {
				t.Errorf("top-level system = %q, want none", r.System)
			}
			if r.Request.MaxTokens != tt.wantMax || r.Request.JSON != tt.wantJSON {
				t.Errorf("max_tokens %d json %v, want %d %v", r.Request.MaxTokens, r.Request.JSON, tt.wantMax, tt.wantJSON)
			}
			if (r.Request.Temperature == nil) != (tt.wantTemp == nil) || (tt.wantTemp != nil && *r.Request.Temperature != *tt.wantTemp) {
				t.Errorf("temperature = %v, want %v", r.Request.Temperature, tt.wantTemp)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(r.Body, &top); err != nil {
				t.Fatal(err)
			}
			for k, present := range tt.wantField {
				if _, ok := top[k]; ok != present {
					t.Errorf("field %q present = %v, want %v (body %s)", k, ok, present, r.Body)
				}
			}
		})
	}
}

func TestOpenAIAnswer(t *testing.T) {
	s, c := setup(t, llm.ProviderOpenAI, nil)
	s.Reply(`{"a":1}`)
	s.Usage(123, 45)
	s.StopReason("length")
	got, err := c.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "q"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := llm.Response{Content: `{"a":1}`, Model: llmfake.Model, StopReason: "length", Usage: llm.Usage{InputTokens: 123, OutputTokens: 45}}
	if *got != want {
		t.Errorf("got %+v, want %+v", *got, want)
	}
}

func TestOpenAIBaseWithoutV1(t *testing.T) {
	// llama.cpp's server and vLLM answer /chat/completions at the root too.
	s, c := setup(t, llm.ProviderOpenAI, func(c *llm.Config) { c.BaseURL = c.BaseURL[:len(c.BaseURL)-len("/v1")] + "/" })
	s.Reply("x")
	if _, err := c.Complete(context.Background(), llm.Request{}); err != nil {
		t.Fatal(err)
	}
	if p := s.Requests()[0].Path; p != "/chat/completions" {
		t.Errorf("path = %q", p)
	}
}
