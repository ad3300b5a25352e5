package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// grantsFor returns a Grants lookup that gives g to plugin id only.
func grantsFor(id string, g Grants) func(string) Grants {
	return func(plugin string) Grants {
		if plugin == id {
			return g
		}
		return Grants{}
	}
}

// httpAnswer runs the http_proxy plugin with the request doc and decodes its answer.
func httpAnswer(t *testing.T, m *Module, doc string) map[string]any {
	t.Helper()
	logger, _ := newLogger()
	r := req(doc)
	r.Logger = logger
	resp, err := m.Execute(context.Background(), r)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Output, &out); err != nil {
		t.Fatalf("answer %s: %v", resp.Output, err)
	}
	return out
}

func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hello":
			w.Header().Set("X-Echo", r.Header.Get("X-Test"))
			body := make([]byte, r.ContentLength)
			_, _ = r.Body.Read(body)
			fmt.Fprintf(w, "%s %s", r.Method, body)
		case "/redirect-out":
			http.Redirect(w, r, "http://localhost:"+r.URL.Port()+"/hello", http.StatusFound)
		case "/redirect-in":
			http.Redirect(w, r, "/hello", http.StatusFound)
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 1000)))
		case "/slow":
			time.Sleep(2 * time.Second)
		}
	}))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	base := "http://127.0.0.1:" + port

	tests := []struct {
		name   string
		grants Grants
		req    string
		status float64
		body   string
		errMsg string
	}{
		{name: "granted", grants: Grants{HTTP: []string{"127.0.0.1"}},
			req:    `{"method":"POST","url":"` + base + `/hello","headers":{"X-Test":"yes"},"body":"ping"}`,
			status: 200, body: "POST ping"},
		{name: "redirect to granted host", grants: Grants{HTTP: []string{"127.0.0.1"}},
			req: `{"url":"` + base + `/redirect-in"}`, status: 200, body: "GET "},
		{name: "not granted", grants: Grants{},
			req: `{"url":"` + base + `/hello"}`, errMsg: "capability http not granted to plugin http_proxy"},
		{name: "other host", grants: Grants{HTTP: []string{"api.example.com"}},
			req: `{"url":"` + base + `/hello"}`, errMsg: "host 127.0.0.1 not granted to plugin http_proxy"},
		{name: "wildcard never reaches internal addresses", grants: Grants{HTTP: []string{"*"}},
			req: `{"url":"` + base + `/hello"}`, errMsg: "resolves to internal address 127.0.0.1, which a wildcard grant does not allow"},
		{name: "redirect to ungranted host", grants: Grants{HTTP: []string{"127.0.0.1"}},
			req: `{"url":"` + base + `/redirect-out"}`, errMsg: "redirect to host localhost not granted to plugin http_proxy"},
		{name: "response too big", grants: Grants{HTTP: []string{"127.0.0.1"}},
			req: `{"url":"` + base + `/big"}`, errMsg: "response body exceeds 100 bytes"},
		{name: "timeout", grants: Grants{HTTP: []string{"127.0.0.1"}},
			req: `{"url":"` + base + `/slow","timeout_ms":50}`, errMsg: "timed out after 50ms"},
		{name: "bad scheme", grants: Grants{HTTP: []string{"*"}},
			req: `{"url":"file:///etc/passwd"}`, errMsg: "scheme must be http or https"},
		{name: "not json", grants: Grants{HTTP: []string{"*"}},
			req: `{"url":5}`, errMsg: "invalid request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{Grants: grantsFor("http_proxy", tt.grants), HTTPMaxResponseBytes: 100})
			m := load(t, rt, "http_proxy")
			out := httpAnswer(t, m, tt.req)
			if tt.errMsg != "" {
				msg, _ := out["error"].(string)
				mustContain(t, "error", msg, tt.errMsg)
				return
			}
			if out["status"] != tt.status || out["body"] != tt.body {
				t.Fatalf("answer = %v", out)
			}
			if tt.name == "granted" {
				if h, _ := out["headers"].(map[string]any); h["X-Echo"] != "yes" {
					t.Fatalf("headers = %v", out["headers"])
				}
			}
		})
	}
}

func TestHTTPGrantMatching(t *testing.T) {
	t.Parallel()
	g := Grants{HTTP: []string{"api.example.com", "*.svc.example.org", "10.0.0.7"}}
	tests := []struct {
		host           string
		allowed, exact bool
	}{
		{"api.example.com", true, true},
		{"API.Example.COM.", true, true},
		{"example.com", false, false},
		{"a.svc.example.org", true, false},
		{"a.b.svc.example.org", true, false},
		{"svc.example.org", false, false},
		{"10.0.0.7", true, true},
		{"", false, false},
	}
	for _, tt := range tests {
		allowed, exact := g.httpAllowed(tt.host)
		if allowed != tt.allowed || exact != tt.exact {
			t.Errorf("httpAllowed(%q) = %v, %v, want %v, %v", tt.host, allowed, exact, tt.allowed, tt.exact)
		}
	}
}

func TestConfigGet(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{Grants: grantsFor("config", Grants{Config: map[string]string{"42": `{"hello":"world"}`}})})
	m := load(t, rt, "config")
	for in, want := range map[string]string{`42`: `{"hello":"world"}`, `7`: `{}`} {
		logger, logs := newLogger()
		r := req(in)
		r.Logger = logger
		resp, err := m.Execute(context.Background(), r)
		if err != nil || string(resp.Output) != want {
			t.Fatalf("config_get(%s) = %v, %v, want %s", in, resp, err, want)
		}
		if want == `{}` {
			mustContain(t, "logs", logs.String(), "config key not granted to plugin config")
		}
	}
}

// fakeRepo records the requests it gets.
type fakeRepo struct{ got []string }

func (f *fakeRepo) Call(_ context.Context, req json.RawMessage) (json.RawMessage, error) {
	f.got = append(f.got, string(req))
	if strings.Contains(string(req), "fail") {
		return nil, errors.New("task x not found")
	}
	return json.RawMessage(`{"id":"x","status":"pending"}`), nil
}

func TestHooks(t *testing.T) {
	t.Parallel()
	granted := Grants{Repository: true, Config: map[string]string{"k": `{"v":1}`}}
	tests := []struct {
		name   string
		grants Grants
		call   HookCall
		repo   bool
		want   string
		err    Kind
	}{
		{name: "store_call", grants: granted, repo: true,
			call: HookCall{Export: "pre_hook", Input: json.RawMessage(`{"op":"get_task","id":"x"}`)},
			want: `{"result":{"id":"x","status":"pending"}}`},
		{name: "store_call error", grants: granted, repo: true,
			call: HookCall{Export: "pre_hook", Input: json.RawMessage(`{"op":"fail"}`)},
			want: `{"error":"task x not found"}`},
		{name: "store_call not granted", grants: Grants{}, repo: true,
			call: HookCall{Export: "pre_hook", Input: json.RawMessage(`{"op":"get_task"}`)},
			want: `{"error":"capability repository not granted to plugin audit_hook"}`},
		{name: "store_call without repository", grants: granted,
			call: HookCall{Export: "pre_hook", Input: json.RawMessage(`{"op":"get_task"}`)},
			want: `{"error":"store_call is only available to hooks"}`},
		{name: "config in post_hook", grants: granted,
			call: HookCall{Export: "post_hook", Input: json.RawMessage(`k`)}, want: `{"v":1}`},
		{name: "zero result", grants: granted, call: HookCall{Export: "on_tree_started"}, want: ``},
		{name: "missing export", grants: granted, call: HookCall{Export: "on_tree_failed"}, err: KindInvalid},
		{name: "not a hook export", grants: granted, call: HookCall{Export: "execute"}, err: KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{Grants: grantsFor("audit_hook", tt.grants)})
			m := load(t, rt, "hook")
			repo := &fakeRepo{}
			call := tt.call
			if tt.repo {
				call.Repository = repo
			}
			logger, logs := newLogger()
			call.Logger = logger
			out, err := m.CallHook(context.Background(), &call)
			if tt.err != "" {
				if KindOf(err) != tt.err {
					t.Fatalf("err = %v, want kind %s", err, tt.err)
				}
				return
			}
			if err != nil || string(out) != tt.want {
				t.Fatalf("CallHook = %s, %v, want %s", out, err, tt.want)
			}
			if call.Export == "on_tree_started" {
				mustContain(t, "logs", logs.String(), "[WARN]  task: tree started")
			}
			if tt.name == "store_call" && (len(repo.got) != 1 || repo.got[0] != string(tt.call.Input)) {
				t.Fatalf("repository got %v", repo.got)
			}
		})
	}
}

func TestHookTimeout(t *testing.T) {
	t.Parallel()
	// A repository that blocks past the deadline: the hook call is interrupted.
	rt := setup(t, Config{Grants: grantsFor("audit_hook", Grants{Repository: true})})
	m := load(t, rt, "hook")
	_, err := m.CallHook(context.Background(), &HookCall{
		Export: "pre_hook", Input: json.RawMessage(`{}`), Limits: taskLimits(50, 0, 0),
		Repository: blockingRepo{},
	})
	if KindOf(err) != KindTimeout {
		t.Fatalf("err = %v, want a timeout", err)
	}
	mustContain(t, "error", err.Error(), "timed out after 50ms")
}

type blockingRepo struct{}

func (blockingRepo) Call(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestWASI(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, g Grants) ([2]int64, string) {
		rt := setup(t, Config{Grants: grantsFor("wasi", g), RecycleAfter: 1})
		m := load(t, rt, "wasi")
		logger, logs := newLogger()
		r := req(`{}`)
		r.Logger = logger
		resp, err := m.Execute(context.Background(), r)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		var out [2]int64
		if err := json.Unmarshal(resp.Output, &out); err != nil {
			t.Fatalf("output %s: %v", resp.Output, err)
		}
		return out, logs.String()
	}
	t.Run("deterministic", func(t *testing.T) {
		t.Parallel()
		a, logs := run(t, Grants{})
		b, _ := run(t, Grants{})
		if a[0] != 1640995200 || a != b {
			t.Fatalf("clock and random = %v then %v, want the fixed 2022-01-01 clock and equal random", a, b)
		}
		mustContain(t, "logs", logs, "[INFO]  task: hello stdout!!: stream=stdout")
		mustContain(t, "logs", logs, "[WARN]  task: hello stderr!!: stream=stderr")
	})
	t.Run("granted", func(t *testing.T) {
		t.Parallel()
		a, _ := run(t, Grants{Clock: true, Random: true})
		b, _ := run(t, Grants{Clock: true, Random: true})
		if now := time.Now().Unix(); a[0] < now-60 || a[0] > now+60 {
			t.Fatalf("clock = %d, want about %d", a[0], now)
		}
		if a[1] == b[1] {
			t.Logf("two crypto random u32 are equal (%d): unlikely", a[1])
		}
	})
}

// TestReentrantAllocBounded: a plugin whose alloc calls a host function that answers
// through alloc must fail its call, not recurse until the host's Go stack overflows.
func TestReentrantAllocBounded(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "reentrant")
	for i := 0; i < 2; i++ {
		_, err := m.Execute(context.Background(), req(`{}`))
		if err == nil {
			t.Fatalf("Execute %d: want an error", i)
		}
		mustContain(t, "error", err.Error(), "levels deep")
	}
	if s := m.Stats(); s.Idle != 0 || s.Discarded != 2 {
		t.Fatalf("stats = %+v, want the failed instances discarded", s)
	}
}

// TestLogVolumeBounded: apflow.log lines count against a per-call budget, like WASI
// stdout and stderr, so a plugin cannot flood the task log.
func TestLogVolumeBounded(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "logflood")
	logger, buf := newLogger()
	r := req(`{}`)
	r.Logger = logger
	if _, err := m.Execute(context.Background(), r); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	out := buf.String()
	if len(out) > 4*maxLogBytesPerCall {
		t.Fatalf("the plugin wrote %d bytes of log, want at most about %d", len(out), maxLogBytesPerCall)
	}
	mustContain(t, "log", out, "guest log truncated")
}
