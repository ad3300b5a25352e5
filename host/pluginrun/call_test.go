package pluginrun

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		plugin    string
		call      Call
		result    string // compact JSON; "" when the call fails
		kind      string
		errPart   string
		logPart   string
		invalid   bool
		unmatched []string
	}{
		{name: "result, logs and usage", plugin: "echo", call: Call{Input: json.RawMessage(`{"a":1}`)},
			result: `{"a":1}`, logPart: "info  echo called"},
		{name: "empty input is {}", plugin: "echo", result: `{}`},
		{name: "the input schema refuses", plugin: "strict", call: Call{Input: json.RawMessage(`{"a":1}`)},
			kind: string(sandbox.KindInput), errPart: "missing properties: 'name'", invalid: true},
		{name: "an error key fails the call", plugin: "echo", call: Call{Input: json.RawMessage(`{"error":"boom"}`)},
			result: `{"error":"boom"}`, kind: KindErrorResult, errPart: "boom"},
		{name: "a trap fails the call", plugin: "unreachable", kind: string(sandbox.KindTrap), errPart: "unreachable"},
		{name: "http without a grant", plugin: "http_proxy",
			call:   Call{Input: json.RawMessage(`{"url":"https://api.example.com/"}`), HTTP: NewFixture(nil).Wrap},
			result: `{"error":"capability http not granted to plugin http_proxy"}`, kind: KindErrorResult, errPart: "not granted"},
		{name: "http from a fixture", plugin: "http_proxy", call: fixtureCall(`{"url":"https://api.example.com/a"}`,
			`[{"request":{"url":"https://api.example.com/a"},"response":{"status":201,"body":{"ok":true}}}]`),
			result: `{"body":"{\"ok\":true}","headers":{},"status":201}`},
		{name: "an unmatched request is named", plugin: "http_proxy", call: fixtureCall(`{"method":"POST","url":"https://api.example.com/b"}`,
			`[{"request":{"url":"https://api.example.com/a"}}]`),
			kind: KindErrorResult, errPart: "no http fixture pair answers POST https://api.example.com/b",
			unmatched: []string{"POST https://api.example.com/b"}},
		{name: "kv is in memory", plugin: "kv_proxy",
			call:   Call{Input: json.RawMessage(`{"s":{"key":"k","value":1}}`), Grants: sandbox.Grants{KV: &sandbox.KVGrant{}}},
			result: `{"stored":true}`},
		{name: "limits apply", plugin: "echo", call: Call{Input: json.RawMessage(`{"a":"` + strings.Repeat("x", 100) + `"}`),
			Limits: task.Limits{MaxResultBytes: 50}}, kind: string(sandbox.KindResult), errPart: "exceeds max_result_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, tg := setup(t, tt.plugin)
			o, err := r.Call(context.Background(), tg, tt.call)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if tt.result != "" && compact(t, o.Result) != tt.result {
				t.Errorf("result = %s, want %s", o.Result, tt.result)
			}
			if o.Kind != tt.kind || !strings.Contains(o.Error, tt.errPart) || (tt.kind == "") != (o.Error == "") {
				t.Errorf("kind, error = %q, %q; want %q, containing %q", o.Kind, o.Error, tt.kind, tt.errPart)
			}
			if o.InvalidInput() != tt.invalid {
				t.Errorf("InvalidInput = %v, want %v", o.InvalidInput(), tt.invalid)
			}
			if strings.Join(o.Unmatched, "|") != strings.Join(tt.unmatched, "|") {
				t.Errorf("Unmatched = %q, want %q", o.Unmatched, tt.unmatched)
			}
			if tt.logPart != "" && len(matchLogs([]string{tt.logPart}, o.Logs)) > 0 {
				t.Errorf("logs %v lack %q", o.Logs, tt.logPart)
			}
			if !tt.invalid && o.Usage.DurationMS <= 0 {
				t.Errorf("usage %+v has no duration", o.Usage)
			}
		})
	}
}

func fixtureCall(input, pairs string) Call {
	ps, err := ParseFixture("test", []byte(pairs))
	if err != nil {
		panic(err)
	}
	fx := NewFixture(ps)
	return Call{Input: json.RawMessage(input), Grants: sandbox.Grants{HTTP: []string{"api.example.com"}}, HTTP: fx.Wrap, Unmatched: fx.Unmatched}
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("result %s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCallHook(t *testing.T) {
	t.Parallel()
	r, tg := setup(t, "hook")
	ctx := context.Background()
	if _, err := r.Call(ctx, tg, Call{}); !errors.Is(err, ErrNoSuchExport) {
		t.Fatalf("execute on a hook: %v, want ErrNoSuchExport", err)
	}
	// post_hook forwards its input to config_get.
	o, err := r.Call(ctx, tg, Call{Hook: HookPost, Input: json.RawMessage(`{}`), Grants: sandbox.Grants{Config: map[string]string{"{}": `{"v":1}`}}})
	if err != nil {
		t.Fatalf("post hook: %v", err)
	}
	if o.Failed() || compact(t, o.Result) != `{"v":1}` {
		t.Fatalf("post hook outcome = %+v", o)
	}
	// Its usage is measured as an executor's: its config_get is a host call.
	if u := o.Usage; u.HostCalls < 1 || u.PeakMemoryPages == 0 || u.BytesIn != 2 || u.BytesOut != int64(len(o.Result)) || u.DurationMS <= 0 {
		t.Fatalf("post hook usage = %+v", u)
	}
	if _, err := r.Call(ctx, tg, Call{Hook: "around"}); err == nil {
		t.Fatal("hook around accepted")
	}
	_, ex := setup(t, "echo")
	if _, err := r.Call(ctx, ex, Call{Hook: HookPre}); !errors.Is(err, ErrNoSuchExport) {
		t.Fatalf("pre hook on an executor: %v, want ErrNoSuchExport", err)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, err := New(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("testdata", "echo.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "some_file.wasm"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.wasm"), []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "strict.wasm"), mustRead(t, "strict"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dup.wasm"), b, 0o644); err != nil { // declares echo too
		t.Fatal(err)
	}
	for _, id := range []string{"echo", "strict"} { // through the registry; as <id>.wasm
		tg, err := r.Open(ctx, id, dir)
		if err != nil {
			t.Fatalf("Open by id %s: %v", id, err)
		}
		if tg.Info.ID != id {
			t.Fatalf("id = %q, want %q", tg.Info.ID, id)
		}
		tg.Close()
	}
	for _, tt := range []struct{ ref, dir, want string }{
		{"missing", dir, "broken.wasm"},
		{"missing", "", "no plugins directory"},
		{"missing", filepath.Join(dir, "nope"), "does not exist"},
		{filepath.Join(dir, "broken.wasm"), "", "does not compile"},
		{filepath.Join(dir, "absent.wasm"), "", "no such file"},
	} {
		_, err := r.Open(ctx, tt.ref, tt.dir)
		if !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q, %q) = %v, want ErrInvalidPlugin containing %q", tt.ref, tt.dir, err, tt.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("the plugins dir holds %d entries after Open, want the 4 it had: nothing is stored", len(entries))
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answerCompleter answers every completion "ok" with 5 input and 1 output tokens.
type answerCompleter struct{}

func (answerCompleter) Complete(context.Context, llm.Request) (*llm.Response, error) {
	return &llm.Response{Content: "ok", Model: "fake", Usage: llm.Usage{InputTokens: 5, OutputTokens: 1}}, nil
}

// TestCallLLM: a call granted llm reaches the runner's Completer and its usage counts
// the tokens; a runner without one answers llm_not_configured.
func TestCallLLM(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	call := Call{Input: json.RawMessage(`{"r":{"messages":[{"role":"user","content":"hi"}]}}`), Grants: sandbox.Grants{LLM: true}}
	for _, c := range []struct {
		name      string
		completer llm.Completer
		result    string
		tokens    int64
	}{
		{name: "configured", completer: answerCompleter{}, result: `{"content":"ok","model":"fake","usage":{"input_tokens":5,"output_tokens":1}}`, tokens: 5},
		{name: "not configured", result: `{"code":"llm_not_configured","error":"llm: no provider is configured"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(ctx, Options{LLM: c.completer})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = r.Close(ctx) })
			tg, err := r.Open(ctx, filepath.Join("testdata", "llm_proxy.wasm"), "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(tg.Close)
			o, err := r.Call(ctx, tg, call)
			if err != nil {
				t.Fatal(err)
			}
			if got := compact(t, o.Result); got != c.result {
				t.Errorf("result = %s, want %s", got, c.result)
			}
			if o.Usage.LLMInputTokens != c.tokens {
				t.Errorf("usage = %+v, want %d input tokens", o.Usage, c.tokens)
			}
		})
	}
}

// TestLogLineNumbers: a line's numbers read as logged, not as floats (1.048576e+06).
func TestLogLineNumbers(t *testing.T) {
	t.Parallel()
	c := newLogCapture()
	c.log.Warn("guest output truncated", "stream", "stdout", "limit_bytes", 1<<20, "ratio", 0.5)
	lines := c.lines()
	if len(lines) != 1 || lines[0].String() != "warn  guest output truncated limit_bytes=1048576 ratio=0.5 stream=stdout" {
		t.Fatalf("lines = %q", lines)
	}
}
