// Package llmfake is a scripted model provider for tests: an HTTP server on loopback that
// speaks both wire formats host/llm calls (OpenAI-compatible chat completions and
// Anthropic's messages API), answers from a script and records what it was asked.
//
// It is a test helper, importable by the tests of any package (host/generate,
// cmd/apflow): no real model, no network beyond 127.0.0.1.
//
//	s := llmfake.New(t)
//	s.Reply(`{"ok":true}`)
//	c, _ := llm.New(s.Config(llm.ProviderOpenAI), func(string) string { return "" })
//
// The script is a queue: each Reply, ReplyFunc, ReplyRaw or Fail adds one answer,
// answered in order; the last one then answers every further request. With nothing
// scripted the server answers HTTP 500 "llmfake: nothing scripted".
package llmfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/llm"
)

// Model and Key are what Config puts in the configs it returns.
const (
	Model = "fake-model"
	Key   = "llmfake-test-key"
)

// The usage answered until Usage sets another.
const (
	DefaultInputTokens  = 10
	DefaultOutputTokens = 5
)

// Received is one request the server got.
//
// For Anthropic, a system prompt ending with llm.AnthropicJSONInstruction (host/llm's
// way of asking for JSON) is read back as Request.JSON; System and Body keep it.
type Received struct {
	// Format is llm.ProviderOpenAI or llm.ProviderAnthropic, by the path asked.
	Format string
	Path   string
	// Header holds the request's headers as sent (Authorization, x-api-key, ...).
	Header http.Header
	// Model is the request's "model".
	Model string
	// Request is the request in host/llm's terms; for Anthropic the top-level "system"
	// comes first as a system message, so both formats read alike.
	Request llm.Request
	// System is Anthropic's top-level "system" field (empty for OpenAI).
	System string
	// Body is the raw request body.
	Body []byte
}

// Server is the fake provider; its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	script   []answer
	delay    time.Duration
	usage    llm.Usage
	stop     string
	received []Received
}

type answer struct {
	fn     func(llm.Request) (string, error)
	status int
	msg    string
	raw    *string
}

// New starts a server on loopback, closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{usage: llm.Usage{InputTokens: DefaultInputTokens, OutputTokens: DefaultOutputTokens}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the server's base URL ("http://127.0.0.1:port").
func (s *Server) URL() string { return s.srv.URL }

// Config returns a config of the given provider ("openai" or "anthropic") pointing at
// the server, with model Model and key Key.
func (s *Server) Config(provider string) llm.Config {
	c := llm.Config{Provider: provider, BaseURL: s.srv.URL, Model: Model, APIKey: Key}
	if provider == llm.ProviderOpenAI {
		c.BaseURL += "/v1"
	}
	return c
}

// Reply scripts an answer with this content.
func (s *Server) Reply(content string) {
	s.ReplyFunc(func(llm.Request) (string, error) { return content, nil })
}

// ReplyFunc scripts an answer computed from the request; an error answers HTTP 500 with
// the error's text as the provider's message.
func (s *Server) ReplyFunc(fn func(req llm.Request) (string, error)) {
	s.push(answer{fn: fn})
}

// Fail scripts an HTTP error answer with the provider's error body carrying message.
func (s *Server) Fail(status int, message string) {
	s.push(answer{status: status, msg: message})
}

// ReplyRaw scripts an answer of this status and body, as is (for malformed answers).
func (s *Server) ReplyRaw(status int, body string) {
	s.push(answer{status: status, raw: &body})
}

// Delay makes every further answer wait d first (or until the client goes away).
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Usage sets the token counts of every further answer.
func (s *Server) Usage(in, out int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usage = llm.Usage{InputTokens: in, OutputTokens: out}
}

// StopReason sets the finish or stop reason of every further answer (default "stop" for
// OpenAI, "end_turn" for Anthropic).
func (s *Server) StopReason(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop = reason
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

func (s *Server) push(a answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, a)
}

// next takes the next answer of the script, keeping the last one.
func (s *Server) next(r Received) (answer, time.Duration, llm.Usage, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, r)
	if len(s.script) == 0 {
		return answer{}, s.delay, s.usage, s.stop, false
	}
	a := s.script[0]
	if len(s.script) > 1 {
		s.script = s.script[1:]
	}
	return a, s.delay, s.usage, s.stop, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var format string
	switch {
	case r.Method != http.MethodPost:
		http.Error(w, "llmfake: POST only", http.StatusMethodNotAllowed)
		return
	case r.URL.Path == "/v1/chat/completions" || r.URL.Path == "/chat/completions":
		format = llm.ProviderOpenAI
	case r.URL.Path == "/v1/messages":
		format = llm.ProviderAnthropic
	default:
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec, err := decode(format, body)
	if err != nil {
		writeError(w, format, http.StatusBadRequest, "llmfake: "+err.Error())
		return
	}
	rec.Path, rec.Header = r.URL.Path, r.Header.Clone()
	a, delay, usage, stop, ok := s.next(rec)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case !ok:
		writeError(w, format, http.StatusInternalServerError, "llmfake: nothing scripted")
	case a.raw != nil:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, *a.raw)
	case a.fn == nil:
		writeError(w, format, a.status, a.msg)
	default:
		content, err := a.fn(rec.Request)
		if err != nil {
			writeError(w, format, http.StatusInternalServerError, err.Error())
			return
		}
		writeAnswer(w, format, rec.Model, content, stop, usage)
	}
}

// decode reads a request of either format into a Received.
func decode(format string, body []byte) (Received, error) {
	var wire struct {
		Model          string                 `json:"model"`
		System         string                 `json:"system"`
		Messages       []llm.Message          `json:"messages"`
		MaxTokens      int                    `json:"max_tokens"`
		Temperature    *float64               `json:"temperature"`
		ResponseFormat *struct{ Type string } `json:"response_format"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		return Received{}, fmt.Errorf("request body: %w", err)
	}
	rec := Received{Format: format, Model: wire.Model, System: wire.System, Body: body}
	rec.Request = llm.Request{MaxTokens: wire.MaxTokens, Temperature: wire.Temperature}
	if wire.System != "" {
		rec.Request.Messages = append(rec.Request.Messages, llm.Message{Role: llm.RoleSystem, Content: wire.System})
	}
	rec.Request.Messages = append(rec.Request.Messages, wire.Messages...)
	rec.Request.JSON = wire.ResponseFormat != nil && wire.ResponseFormat.Type == "json_object"
	if format == llm.ProviderAnthropic && strings.HasSuffix(wire.System, llm.AnthropicJSONInstruction) {
		rec.Request.JSON = true
	}
	return rec, nil
}

func writeAnswer(w http.ResponseWriter, format, model, content, stop string, u llm.Usage) {
	var doc any
	if format == llm.ProviderOpenAI {
		if stop == "" {
			stop = "stop"
		}
		doc = map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion", "model": model,
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": content},
				"finish_reason": stop,
			}},
			"usage": map[string]any{"prompt_tokens": u.InputTokens, "completion_tokens": u.OutputTokens,
				"total_tokens": u.InputTokens + u.OutputTokens},
		}
	} else {
		if stop == "" {
			stop = "end_turn"
		}
		doc = map[string]any{
			"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
			"content":     []any{map[string]any{"type": "text", "text": content}},
			"stop_reason": stop,
			"usage":       map[string]any{"input_tokens": u.InputTokens, "output_tokens": u.OutputTokens},
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}

// writeError answers the error body of the format: {"error":{"type","message"}}, with
// Anthropic's top-level "type":"error".
func writeError(w http.ResponseWriter, format string, status int, message string) {
	typ := strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
	doc := map[string]any{"error": map[string]any{"type": typ, "message": message}}
	if format == llm.ProviderAnthropic {
		doc["type"] = "error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(doc)
}
