package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/executor"
)

// answerFunc is an HTTPTransport answering every request itself.
type answerFunc func(*http.Request) (*http.Response, error)

func (f answerFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWithHTTPTransport(t *testing.T) {
	t.Parallel()
	answer := func(status int, location, body string) func(HTTPTransport) HTTPTransport {
		return func(HTTPTransport) HTTPTransport {
			return answerFunc(func(r *http.Request) (*http.Response, error) {
				h := http.Header{"X-Url": {r.URL.String()}}
				if location != "" && r.URL.Path == "/start" {
					h.Set("Location", location)
				}
				return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
			})
		}
	}
	tests := []struct {
		name   string
		grants Grants
		wrap   func(HTTPTransport) HTTPTransport
		status float64
		body   string
		errMsg string
	}{
		{name: "answered without a network", grants: Grants{HTTP: []string{"api.example.com"}},
			wrap: answer(200, "", "fixed"), status: 200, body: "fixed"},
		{name: "the http grant is still required", grants: Grants{},
			wrap: answer(200, "", "fixed"), errMsg: "capability http not granted"},
		{name: "the host is still checked", grants: Grants{HTTP: []string{"other.example.com"}},
			wrap: answer(200, "", "fixed"), errMsg: "host api.example.com not granted"},
		{name: "redirects are still checked", grants: Grants{HTTP: []string{"api.example.com"}},
			wrap: answer(302, "https://evil.example.com/", ""), errMsg: "redirect to host evil.example.com not granted"},
		{name: "the body limit still applies", grants: Grants{HTTP: []string{"api.example.com"}},
			wrap: answer(200, "", strings.Repeat("x", 101)), errMsg: "response body exceeds 100 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{Grants: grantsFor("http_proxy", tt.grants), HTTPMaxResponseBytes: 100})
			m := load(t, rt, "http_proxy")
			ctx := WithHTTPTransport(context.Background(), tt.wrap)
			r := req(`{"url":"https://api.example.com/start"}`)
			resp, err := m.Execute(ctx, r)
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			var out map[string]any
			if err := json.Unmarshal(resp.Output, &out); err != nil {
				t.Fatalf("answer %s: %v", resp.Output, err)
			}
			if tt.errMsg != "" {
				msg, _ := out["error"].(string)
				mustContain(t, "error", msg, tt.errMsg)
				return
			}
			if out["status"] != tt.status || out["body"] != tt.body {
				t.Fatalf("answer = %v", out)
			}
		})
	}
}

// A wrap that calls the guarded transport keeps its dial checks: a wildcard grant still
// does not reach an internal address.
func TestWithHTTPTransportWrapsTheGuardedTransport(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{Grants: grantsFor("http_proxy", Grants{HTTP: []string{"*"}})})
	m := load(t, rt, "http_proxy")
	var calls atomic.Int32
	ctx := WithHTTPTransport(context.Background(), func(guarded HTTPTransport) HTTPTransport {
		return answerFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			return guarded.RoundTrip(r)
		})
	})
	out := httpAnswerCtx(t, ctx, m, `{"url":"http://127.0.0.1:1/"}`)
	msg, _ := out["error"].(string)
	mustContain(t, "error", msg, "resolves to internal address 127.0.0.1")
	if calls.Load() != 1 {
		t.Fatalf("wrap called %d times, want 1", calls.Load())
	}
}

func httpAnswerCtx(t *testing.T, ctx context.Context, m *Module, doc string) map[string]any {
	t.Helper()
	resp, err := m.Execute(ctx, req(doc))
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Output, &out); err != nil {
		t.Fatalf("answer %s: %v", resp.Output, err)
	}
	return out
}

// A module without a transport of its own (one still loading) gets a transport for the
// request: a typed nil must not reach the client (it panicked).
func TestDoHTTPWithoutModuleTransport(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	rt := setup(t, Config{})
	m := &Module{rt: rt, info: &executor.Info{ID: "loading"}}
	cs := &callState{m: m, parent: context.Background(), logger: hclog.NewNullLogger(), grants: Grants{HTTP: []string{"127.0.0.1"}}}
	resp, err := rt.doHTTP(withCallState(context.Background(), cs), cs, []byte(`{"url":"`+srv.URL+`/"}`))
	if err != nil || resp.Status != 200 || resp.Body != "ok" {
		t.Fatalf("doHTTP = %+v, %v", resp, err)
	}
}
