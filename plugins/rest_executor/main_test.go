package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// setup returns a harness whose fake host serves an echo API: /json answers a JSON echo of
// the request, /text plain text, /status/<code> that status.
func setup(t *testing.T) *apflowtest.Harness {
	t.Helper()
	h := apflowtest.New(t)
	h.Host.Config = map[string]string{"api_token": "s3cret"}
	h.Host.HTTP = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/json":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"method": r.Method, "query": r.URL.RawQuery, "body": string(body),
				"auth": r.Header.Get("Authorization"), "ct": r.Header.Get("Content-Type"), "key": r.Header.Get("X-API-Key"),
			})
		case r.URL.Path == "/badjson":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{not json")
		case strings.HasPrefix(r.URL.Path, "/status/"):
			var code int
			fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/status/"), &code)
			w.WriteHeader(code)
			fmt.Fprint(w, "status body")
		default:
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "hello")
		}
	})
	return h
}

func TestRestExecutor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		inputs map[string]any
		check  func(t *testing.T, out map[string]any)
	}{
		{"get text", map[string]any{"url": "http://api.test/text"}, func(t *testing.T, out map[string]any) {
			if out["text"] != "hello" || out["success"] != true || out["status_code"] != 200.0 || out["method"] != "GET" {
				t.Errorf("out = %v", out)
			}
			if _, ok := out["json"]; ok {
				t.Error("a text response has a json field")
			}
		}},
		{"post json with params and bearer from config", map[string]any{
			"url": "http://api.test/json?a=1", "method": "POST", "params": map[string]any{"b": 2, "c": []any{"x", "y"}},
			"json": map[string]any{"k": "v"}, "auth": map[string]any{"type": "bearer", "token_config": "api_token"},
		}, func(t *testing.T, out map[string]any) {
			j, _ := out["json"].(map[string]any)
			want := map[string]any{"method": "POST", "query": "a=1&b=2&c=x&c=y", "body": `{"k":"v"}`,
				"auth": "Bearer s3cret", "ct": "application/json", "key": ""}
			if fmt.Sprint(j) != fmt.Sprint(want) {
				t.Errorf("echo = %v\nwant   %v", j, want)
			}
			if out["url"] != "http://api.test/json?a=1&b=2&c=x&c=y" {
				t.Errorf("url = %v", out["url"])
			}
		}},
		{"form data, basic auth", map[string]any{"url": "http://api.test/json", "method": "PUT", "data": map[string]any{"x": "1 2"},
			"auth": map[string]any{"type": "basic", "username": "u", "password": "p"}}, func(t *testing.T, out map[string]any) {
			j := out["json"].(map[string]any)
			if j["body"] != "x=1+2" || j["ct"] != "application/x-www-form-urlencoded" || j["auth"] != "Basic dTpw" {
				t.Errorf("echo = %v", j)
			}
		}},
		{"apikey header and query", map[string]any{"url": "http://api.test/json", "auth": map[string]any{"type": "apikey", "value": "k1"}},
			func(t *testing.T, out map[string]any) {
				if j := out["json"].(map[string]any); j["key"] != "k1" {
					t.Errorf("echo = %v", j)
				}
			}},
		{"apikey in query", map[string]any{"url": "http://api.test/json", "auth": map[string]any{"type": "apikey", "key": "api_key", "value": "k2", "location": "query"}},
			func(t *testing.T, out map[string]any) {
				if j := out["json"].(map[string]any); j["query"] != "api_key=k2" {
					t.Errorf("echo = %v", j)
				}
			}},
		{"non-2xx completes with success false", map[string]any{"url": "http://api.test/status/404"}, func(t *testing.T, out map[string]any) {
			if out["success"] != false || out["status_code"] != 404.0 || out["text"] != "status body" {
				t.Errorf("out = %v", out)
			}
		}},
		{"invalid JSON body is kept as text", map[string]any{"url": "http://api.test/badjson"}, func(t *testing.T, out map[string]any) {
			if out["text"] != "{not json" {
				t.Errorf("out = %v", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := setup(t).Execute(tt.inputs)
			if res.Failed() {
				t.Fatalf("failed: %s", res.Raw)
			}
			tt.check(t, res.Value().(map[string]any))
		})
	}
}

func TestRestExecutorErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		inputs   map[string]any
		noGrant  bool
		wantCode string
		wantMsg  string
	}{
		{"fail_on_status", map[string]any{"url": "http://api.test/status/503", "fail_on_status": true}, false, "http_status", "GET http://api.test/status/503: HTTP 503"},
		{"relative url", map[string]any{"url": "/x"}, false, "invalid_url", `url "/x" is not an absolute http or https URL`},
		{"ftp url", map[string]any{"url": "ftp://x/y"}, false, "invalid_url", `url "ftp://x/y"`},
		{"two bodies", map[string]any{"url": "http://a.test/", "json": 1, "body": "x"}, false, "invalid_inputs", "at most one"},
		{"missing secret", map[string]any{"url": "http://a.test/", "auth": map[string]any{"type": "bearer", "token_config": "nope"}}, false,
			"missing_secret", `auth.token_config: config key "nope" is not granted`},
		{"bad data", map[string]any{"url": "http://a.test/", "data": 5}, false, "invalid_inputs", "data must be"},
		{"no http grant", map[string]any{"url": "http://a.test/"}, true, "http_refused", "capability http is not granted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			if tt.noGrant {
				h.Host.HTTP = nil
			}
			res := h.Execute(tt.inputs)
			if !res.Failed() || res.Code() != tt.wantCode || !strings.Contains(res.Error(), tt.wantMsg) {
				t.Errorf("result = %s, want code %s and message containing %q", res.Raw, tt.wantCode, tt.wantMsg)
			}
		})
	}
	if err := setup(t).ValidateInputs(map[string]any{"url": "http://x", "method": "FETCH"}); err == nil {
		t.Error("an unknown method validated")
	}
}

func TestRestExecutorTimeout(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.Execute(map[string]any{"url": "http://api.test/text", "timeout": 2.5})
	h.Execute(map[string]any{"url": "http://api.test/text"})
	reqs := h.Host.HTTPRequests()
	if reqs[0]["timeout_ms"] != 2500.0 || reqs[1]["timeout_ms"] != 30000.0 {
		t.Errorf("timeouts = %v, %v", reqs[0]["timeout_ms"], reqs[1]["timeout_ms"])
	}
}
