package llm_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/internal/llmfake"
)

func TestAnthropicRequestShape(t *testing.T) {
	user := llm.Message{Role: llm.RoleUser, Content: "hi"}
	tests := []struct {
		name       string
		edit       func(*llm.Config)
		req        llm.Request
		wantKey    string
		wantSystem string
		wantMax    int
	}{
		{name: "system to top level", req: llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "be terse"}, user}},
			wantKey: llmfake.Key, wantSystem: "be terse", wantMax: llm.DefaultMaxTokens},
		{name: "two system messages joined", req: llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: "a"}, user, {Role: llm.RoleSystem, Content: "b"}}},
			wantKey: llmfake.Key, wantSystem: "a\n\nb", wantMax: llm.DefaultMaxTokens},
		{name: "no system", req: llm.Request{Messages: []llm.Message{user}}, wantKey: llmfake.Key, wantMax: llm.DefaultMaxTokens},
		{name: "configured max_tokens", edit: func(c *llm.Config) { c.MaxTokens = 200 }, req: llm.Request{Messages: []llm.Message{user}}, wantKey: llmfake.Key, wantMax: 200},
		{name: "request max_tokens wins", edit: func(c *llm.Config) { c.MaxTokens = 200 }, req: llm.Request{Messages: []llm.Message{user}, MaxTokens: 9}, wantKey: llmfake.Key, wantMax: 9},
		{name: "no key", edit: func(c *llm.Config) { c.APIKey = "" }, req: llm.Request{Messages: []llm.Message{user}}, wantMax: llm.DefaultMaxTokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t, llm.ProviderAnthropic, tt.edit)
			s.Reply("ok")
			if _, err := c.Complete(context.Background(), tt.req); err != nil {
				t.Fatal(err)
			}
			r := s.Requests()[0]
			if r.Path != "/v1/messages" || r.Format != llm.ProviderAnthropic {
				t.Errorf("path %q format %q", r.Path, r.Format)
			}
			if k := r.Header.Get("x-api-key"); k != tt.wantKey {
				t.Errorf("x-api-key = %q, want %q", k, tt.wantKey)
			}
			if _, ok := r.Header["Authorization"]; ok {
				t.Errorf("Authorization sent to Anthropic")
			}
			if v := r.Header.Get("anthropic-version"); v != llm.AnthropicVersion {
				t.Errorf("anthropic-version = %q", v)
			}
			if r.System != tt.wantSystem {
				t.Errorf("system = %q, want %q", r.System, tt.wantSystem)
			}
			var wire struct {
				Messages  []llm.Message `json:"messages"`
				MaxTokens int           `json:"max_tokens"`
			}
			if err := json.Unmarshal(r.Body, &wire); err != nil {
				t.Fatal(err)
			}
			for _, m := range wire.Messages {
				if m.Role == llm.RoleSystem {
					t.Errorf("system message left in messages: %s", r.Body)
				}
			}
			if wire.MaxTokens != tt.wantMax {
				t.Errorf("max_tokens = %d, want %d", wire.MaxTokens, tt.wantMax)
			}
		})
	}
}

func TestAnthropicAnswer(t *testing.T) {
	s, c := setup(t, llm.ProviderAnthropic, nil)
	s.Reply("hello")
	s.Usage(30, 4)
	got, err := c.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "q"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := llm.Response{Content: "hello", Model: llmfake.Model, StopReason: "end_turn", Usage: llm.Usage{InputTokens: 30, OutputTokens: 4}}
	if *got != want {
		t.Errorf("got %+v, want %+v", *got, want)
	}
}

func TestParseAnthropicJoinsTextBlocks(t *testing.T) {
	got, err := llm.ParseAnthropic([]byte(`{"model":"m","content":[{"type":"text","text":"a"},{"type":"tool_use","id":"x"},{"type":"text","text":"b"}],"stop_reason":"max_tokens","usage":{"input_tokens":1,"output_tokens":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Content != "ab" || got.StopReason != "max_tokens" || got.Usage != (llm.Usage{InputTokens: 1, OutputTokens: 2}) {
		t.Errorf("got %+v", got)
	}
}

func TestAnthropicJSON(t *testing.T) {
	tests := []struct {
		name        string
		msgs        []llm.Message
		reply, want string
		wantSystem  string
	}{
		{name: "instruction appended to the system prompt", msgs: []llm.Message{{Role: llm.RoleUser, Content: "q"}},
			reply: `{"a":1}`, want: `{"a":1}`, wantSystem: llm.AnthropicJSONInstruction},
		{name: "after the caller's system prompt", msgs: []llm.Message{{Role: llm.RoleSystem, Content: "be terse"}, {Role: llm.RoleUser, Content: "q"}},
			reply: `{"a":1}`, want: `{"a":1}`, wantSystem: "be terse\n\n" + llm.AnthropicJSONInstruction},
		{name: "json fence stripped", msgs: []llm.Message{{Role: llm.RoleUser, Content: "q"}},
			reply: "```json\n{\"a\":1}\n```", want: `{"a":1}`, wantSystem: llm.AnthropicJSONInstruction},
		{name: "answer repeating a brace kept as is", msgs: []llm.Message{{Role: llm.RoleUser, Content: "q"}},
			reply: `{"b":2}`, want: `{"b":2}`, wantSystem: llm.AnthropicJSONInstruction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t, llm.ProviderAnthropic, nil)
			s.Reply(tt.reply)
			got, err := c.Complete(context.Background(), llm.Request{Messages: tt.msgs, JSON: true})
			if err != nil {
				t.Fatal(err)
			}
			if got.Content != tt.want {
				t.Errorf("content = %q, want %q", got.Content, tt.want)
			}
			var wire struct {
				System   string        `json:"system"`
				Messages []llm.Message `json:"messages"`
			}
			r := s.Requests()[0]
			if err := json.Unmarshal(r.Body, &wire); err != nil {
				t.Fatal(err)
			}
			if last := wire.Messages[len(wire.Messages)-1]; last.Role == llm.RoleAssistant {
				t.Errorf("conversation ends with an assistant message (prefill): %s", r.Body)
			}
			if wire.System != tt.wantSystem {
				t.Errorf("system = %q, want %q", wire.System, tt.wantSystem)
			}
			if !r.Request.JSON {
				t.Errorf("recorded JSON = false")
			}
		})
	}
}

func TestAnthropicNoJSONKeepsFence(t *testing.T) {
	s, c := setup(t, llm.ProviderAnthropic, nil)
	s.Reply("```json\n{}\n```")
	got, err := c.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "q"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Content != "```json\n{}\n```" {
		t.Errorf("content = %q", got.Content)
	}
	if r := s.Requests()[0]; r.System != "" || r.Request.JSON {
		t.Errorf("system %q, JSON %v without Request.JSON", r.System, r.Request.JSON)
	}
}
