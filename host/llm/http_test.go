package llm_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/internal/llmfake"
)

var providers = []string{llm.ProviderOpenAI, llm.ProviderAnthropic}

func TestHTTPErrors(t *testing.T) {
	tests := []struct {
		name   string
		script func(*llmfake.Server)
		want   []string // substrings of the error
	}{
		{name: "401 with provider message", script: func(s *llmfake.Server) { s.Fail(401, "invalid x-api-key") },
			want: []string{"HTTP 401", "invalid x-api-key"}},
		{name: "429", script: func(s *llmfake.Server) { s.Fail(429, "rate limited, slow down") }, want: []string{"HTTP 429", "rate limited"}},
		{name: "500", script: func(s *llmfake.Server) { s.Fail(500, "overloaded") }, want: []string{"HTTP 500", "overloaded"}},
		{name: "502 plain text body", script: func(s *llmfake.Server) { s.ReplyRaw(502, "<html>bad gateway</html>") }, want: []string{"HTTP 502", "bad gateway"}},
		{name: "error as a string", script: func(s *llmfake.Server) { s.ReplyRaw(400, `{"error":"model not found"}`) }, want: []string{"HTTP 400", "model not found"}},
		{name: "empty error body", script: func(s *llmfake.Server) { s.ReplyRaw(503, "") }, want: []string{"HTTP 503", "(empty body)"}},
		{name: "malformed JSON answer", script: func(s *llmfake.Server) { s.ReplyRaw(200, `{"choices":[`) }, want: []string{"malformed answer"}},
		{name: "answer without content", script: func(s *llmfake.Server) { s.ReplyRaw(200, `{"model":"m"}`) }, want: []string{"malformed answer", "no content"}},
		{name: "negative usage", script: func(s *llmfake.Server) {
			s.ReplyRaw(200, `{"choices":[{"message":{"content":"x"}}],"content":[{"type":"text","text":"x"}],"usage":{"prompt_tokens":-5,"input_tokens":-5}}`)
		}, want: []string{"malformed answer", "negative"}},
		{name: "key echoed by the provider is redacted", script: func(s *llmfake.Server) { s.Fail(401, "Incorrect API key provided: "+llmfake.Key) },
			want: []string{"HTTP 401", "Incorrect API key provided: [redacted]"}},
		{name: "redirect not followed", script: func(s *llmfake.Server) { s.ReplyRaw(307, `{"error":{"message":"moved"}}`) }, want: []string{"HTTP 307", "moved"}},
		{name: "reply func error", script: func(s *llmfake.Server) {
			s.ReplyFunc(func(llm.Request) (string, error) { return "", errors.New("scripted failure") })
		}, want: []string{"HTTP 500", "scripted failure"}},
	}
	for _, p := range providers {
		for _, tt := range tests {
			t.Run(p+"/"+tt.name, func(t *testing.T) {
				s, c := setup(t, p, nil)
				tt.script(s)
				_, err := c.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "q"}}})
				if !errors.Is(err, llm.ErrProvider) {
					t.Fatalf("err = %v, want ErrProvider", err)
				}
				for _, w := range append(tt.want, "llm "+p) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), llmfake.Key) {
					t.Errorf("err %q holds the key", err)
				}
			})
		}
	}
}

func TestAnswerTooLong(t *testing.T) {
	for _, p := range providers {
		t.Run(p, func(t *testing.T) {
			s, c := setup(t, p, nil)
			s.ReplyRaw(200, `{"x":"`+strings.Repeat("a", llm.MaxResponseBytes)+`"}`)
			_, err := c.Complete(context.Background(), llm.Request{})
			if !errors.Is(err, llm.ErrProvider) || !strings.Contains(err.Error(), "longer than") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	for _, p := range providers {
		t.Run(p, func(t *testing.T) {
			s, c := setup(t, p, func(c *llm.Config) { c.TimeoutMS = 50 })
			s.Reply("late")
			s.Delay(5 * time.Second)
			_, err := c.Complete(context.Background(), llm.Request{})
			if !errors.Is(err, llm.ErrProvider) {
				t.Fatalf("err = %v, want ErrProvider", err)
			}
			var ne net.Error
			if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()) {
				t.Errorf("err = %v, want a timeout", err)
			}
		})
	}
}

func TestContextDeadline(t *testing.T) {
	for _, p := range providers {
		t.Run(p, func(t *testing.T) {
			s, c := setup(t, p, nil)
			s.Reply("late")
			s.Delay(5 * time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := c.Complete(ctx, llm.Request{})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want context.DeadlineExceeded", err)
			}
		})
	}
}

func TestRedirectKeepsKeyHome(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization") != "" || r.Header.Get("x-api-key") != "")
		w.Write([]byte(`{"choices":[{"message":{"content":"x"}}]}`))
	}))
	defer other.Close()
	redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redir.Close()
	c, err := llm.New(llm.Config{Provider: llm.ProviderOpenAI, BaseURL: redir.URL, Model: "m", APIKey: "k"}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(context.Background(), llm.Request{}); !errors.Is(err, llm.ErrProvider) || !strings.Contains(err.Error(), "HTTP 307") {
		t.Errorf("err = %v, want ErrProvider HTTP 307", err)
	}
	if leaked.Load() {
		t.Errorf("the redirect was followed")
	}
}

// A key the provider echoes inside its JSON error is escaped there; it is redacted in
// that form too, before the message is read back (and unescaped).
func TestJSONEscapedKeyRedacted(t *testing.T) {
	const key = `sk-"quoted"\path<x>&y`
	for _, p := range providers {
		t.Run(p, func(t *testing.T) {
			s, c := setup(t, p, func(c *llm.Config) { c.APIKey = key })
			s.Fail(401, "Incorrect API key provided: "+key)
			_, err := c.Complete(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "q"}}})
			if !errors.Is(err, llm.ErrProvider) {
				t.Fatalf("err = %v, want ErrProvider", err)
			}
			if strings.Contains(err.Error(), "quoted") || !strings.Contains(err.Error(), "[redacted]") {
				t.Errorf("err %q holds the key or no redaction", err)
			}
		})
	}
}
