package apflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

type greetIn struct {
	Name  string `json:"name" jsonschema:"required,minLength=1"`
	Times int    `json:"times,omitempty" jsonschema:"minimum=0"`
	Mode  string `json:"mode,omitempty"`
}

type greetOut struct {
	Greeting string `json:"greeting"`
}

var errBoom = errors.New("boom")

// setup returns a harness around a greeting executor whose behaviour the mode input picks.
func setup(t *testing.T) *apflowtest.Harness {
	t.Helper()
	m, err := apflow.NewModule(apflow.Executor[greetIn, greetOut]{
		ID: "greet", Name: "Greeter", Version: "1.0.0", Tags: []string{"demo"},
		Capabilities: []string{"config"},
		Run: func(ctx *apflow.Context, in greetIn) (greetOut, error) {
			ctx.Log.Info("greeting", "name", in.Name, "times", in.Times)
			ctx.Progress(0.5)
			switch in.Mode {
			case "error":
				return greetOut{}, fmt.Errorf("cannot greet %s: %w", in.Name, errBoom)
			case "structured":
				return greetOut{}, apflow.NewError("rude", "refusing to greet "+in.Name, map[string]any{"name": in.Name})
			case "errorf":
				return greetOut{}, apflow.Errorf("wrapped: %w", errBoom).WithCode("wrapped")
			case "panic":
				panic("the greeter exploded")
			case "nilmap":
				var m map[string]int
				//lint:ignore SA5000 the test needs a guest that panics on a nil map
				m["x"] = 1
			case "config":
				v, ok := ctx.Config("salutation")
				if !ok {
					return greetOut{}, apflow.NewError("no_config", "salutation not granted", nil)
				}
				return greetOut{Greeting: v + " " + in.Name}, nil
			}
			return greetOut{Greeting: strings.Repeat("hello ", max(in.Times, 1)) + in.Name}, nil
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return apflowtest.For(t, m)
}

func TestExecuteResults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		inputs    map[string]any
		want      string // the whole result document, for successes
		wantErr   string
		wantCode  string
		wantExtra string // a substring of the raw error document
	}{
		{name: "ok", inputs: map[string]any{"name": "ada"}, want: `{"greeting":"hello ada"}`},
		{name: "extra keys are ignored", inputs: map[string]any{"name": "ada", "times": 2, "dep-1": map[string]any{"x": 1}},
			want: `{"greeting":"hello hello ada"}`},
		{name: "plain error", inputs: map[string]any{"name": "ada", "mode": "error"}, wantErr: "cannot greet ada: boom"},
		{name: "structured error", inputs: map[string]any{"name": "bob", "mode": "structured"},
			wantErr: "refusing to greet bob", wantCode: "rude", wantExtra: `"details":{"name":"bob"}`},
		{name: "errorf", inputs: map[string]any{"name": "c", "mode": "errorf"}, wantErr: "wrapped: boom", wantCode: "wrapped"},
		{name: "panic", inputs: map[string]any{"name": "d", "mode": "panic"}, wantErr: "panic: the greeter exploded", wantCode: apflow.CodePanic},
		{name: "runtime panic", inputs: map[string]any{"name": "d", "mode": "nilmap"},
			wantErr: "panic: assignment to entry in nil map", wantCode: apflow.CodePanic},
		{name: "config not granted", inputs: map[string]any{"name": "e", "mode": "config"}, wantErr: "salutation not granted", wantCode: "no_config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t)
			res := h.Execute(tt.inputs)
			if tt.wantErr == "" {
				if res.Failed() || string(res.Raw) != tt.want {
					t.Fatalf("result = %s, want %s", res.Raw, tt.want)
				}
				return
			}
			if !res.Failed() {
				t.Fatalf("result = %s, want an error", res.Raw)
			}
			if res.Error() != tt.wantErr || res.Code() != tt.wantCode {
				t.Errorf("error = %q code %q, want %q code %q", res.Error(), res.Code(), tt.wantErr, tt.wantCode)
			}
			if !strings.Contains(string(res.Raw), tt.wantExtra) {
				t.Errorf("result %s does not contain %s", res.Raw, tt.wantExtra)
			}
		})
	}
}

func TestExecuteInvalidInputs(t *testing.T) {
	t.Parallel()
	h := setup(t)
	for _, raw := range []string{`{"name": 5}`, `[1,2]`, `{"name":`, `"x"`} {
		res := h.ExecuteRaw([]byte(raw))
		if !res.Failed() || res.Code() != apflow.CodeInvalidInputs {
			t.Errorf("input %s: result %s, want an invalid_inputs error", raw, res.Raw)
		}
	}
	if err := h.ValidateInputs(map[string]any{"times": 1}); err == nil {
		t.Error("inputs without the required name validated")
	}
	// Empty input decodes as the zero value rather than failing.
	if res := h.ExecuteRaw(nil); res.Failed() {
		t.Errorf("empty input: %s", res.Raw)
	}
}

func TestExecutePanicLogsStack(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.Execute(map[string]any{"name": "x", "mode": "panic"})
	logs := h.Host.Logs()
	last := logs[len(logs)-1]
	if last.Level != apflow.LevelError || !strings.HasPrefix(last.Msg, "panic: the greeter exploded\ngoroutine ") ||
		strings.Contains(last.Msg, `\n`) || !strings.Contains(last.Msg, "\n\t") {
		t.Errorf("last log line = %+v, want the panic, then its stack line by line, at error level", last)
	}
}

func TestExecuteContext(t *testing.T) {
	t.Parallel()
	h := setup(t)
	h.Host.Config = map[string]string{"salutation": "ahoy"}
	res := h.Execute(map[string]any{"name": "ada", "mode": "config", "times": 2})
	if string(res.Raw) != `{"greeting":"ahoy ada"}` {
		t.Fatalf("result = %s", res.Raw)
	}
	if got := h.Host.Logs(); len(got) != 1 || got[0] != (apflowtest.LogLine{Level: apflow.LevelInfo, Msg: "greeting name=ada times=2"}) {
		t.Errorf("logs = %+v", got)
	}
	if got := h.Host.ProgressReports(); !reflect.DeepEqual(got, []float64{0.5}) {
		t.Errorf("progress = %v", got)
	}
}

func TestEncodingFailure(t *testing.T) {
	t.Parallel()
	m, err := apflow.NewModule(apflow.Executor[map[string]any, any]{
		ID:  "bad_output",
		Run: func(*apflow.Context, map[string]any) (any, error) { return map[string]any{"c": make(chan int)}, nil },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := apflowtest.For(t, m).Execute(map[string]any{})
	if !res.Failed() || res.Code() != apflow.CodeEncoding {
		t.Fatalf("result = %s, want a result_encoding error", res.Raw)
	}
}

func TestErrorDetailsThatDoNotEncode(t *testing.T) {
	t.Parallel()
	m, err := apflow.NewModule(apflow.Executor[struct{}, struct{}]{
		ID: "bad_details",
		Run: func(*apflow.Context, struct{}) (struct{}, error) {
			return struct{}{}, apflow.NewError("c", "msg", make(chan int))
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := apflowtest.For(t, m).Execute(struct{}{})
	if !res.Failed() || !strings.HasPrefix(res.Error(), "msg (details dropped: ") || res.Code() != "c" {
		t.Fatalf("result = %s", res.Raw)
	}
}

func TestMetadataAndSchemas(t *testing.T) {
	t.Parallel()
	h := setup(t)
	var meta map[string]any
	if err := json.Unmarshal(h.Module.MetadataJSON(), &meta); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": "greet", "name": "Greeter", "version": "1.0.0", "tags": []any{"demo"},
		"capabilities": []any{"config"}, "kind": []any{"executor"}}
	if !reflect.DeepEqual(meta, want) {
		t.Errorf("metadata = %v, want %v", meta, want)
	}
	if !strings.Contains(string(h.Module.InputSchema()), `"required":["name"]`) {
		t.Errorf("input schema = %s", h.Module.InputSchema())
	}
	if !strings.Contains(string(h.Module.OutputSchema()), `"greeting":{"type":"string"}`) {
		t.Errorf("output schema = %s", h.Module.OutputSchema())
	}
	if h.Module.HookConfig() != nil || h.Module.HasHook() || !h.Module.HasExecutor() {
		t.Error("an executor-only module reports a hook")
	}
}

// TestMetadataRetryPolicy: an executor's retry policy goes into its metadata in the
// host's wire form; a zero wait and a zero jitter are kept, unset fields left out.
func TestMetadataRetryPolicy(t *testing.T) {
	t.Parallel()
	zero, none := 0.0, int64(0)
	m, err := apflow.NewModule(apflow.Executor[map[string]any, map[string]any]{
		ID: "r", Run: func(*apflow.Context, map[string]any) (map[string]any, error) { return nil, nil },
		Retry: &apflow.RetryPolicy{MaxAttempts: 3, Backoff: &apflow.Backoff{InitialMS: &none, Jitter: &zero}, RetryOn: []string{"code:busy"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `"retry":{"max_attempts":3,"backoff":{"initial_ms":0,"jitter":0},"retry_on":["code:busy"]}`
	if got := string(m.MetadataJSON()); !strings.Contains(got, want) {
		t.Fatalf("metadata = %s, want it to contain %s", got, want)
	}
}

func TestSchemaOverride(t *testing.T) {
	t.Parallel()
	m, err := apflow.NewModule(apflow.Executor[map[string]any, any]{
		ID: "literal", InputSchema: `{"type": "object", "required": ["a"]}`, OutputSchema: `true`,
		Run: func(_ *apflow.Context, in map[string]any) (any, error) { return in["a"], nil },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.InputSchema()); got != `{"type":"object","required":["a"]}` {
		t.Errorf("input schema = %s", got)
	}
	if got := string(m.OutputSchema()); got != `true` {
		t.Errorf("output schema = %s", got)
	}
}

func TestNewModuleErrors(t *testing.T) {
	t.Parallel()
	run := func(*apflow.Context, struct{}) (struct{}, error) { return struct{}{}, nil }
	tests := []struct {
		name string
		exec apflow.ExecutorSpec
		hook *apflow.Hook
		want string
	}{
		{"nothing", nil, nil, "needs an executor or a hook"},
		{"no id", apflow.Executor[struct{}, struct{}]{Run: run}, nil, "no ID"},
		{"no run", apflow.Executor[struct{}, struct{}]{ID: "x"}, nil, `"x" has no Run`},
		{"bad literal", apflow.Executor[struct{}, struct{}]{ID: "x", Run: run, InputSchema: "{"}, nil, "not JSON"},
		{"literal not a schema", apflow.Executor[struct{}, struct{}]{ID: "x", Run: run, OutputSchema: "[]"}, nil, "object or boolean"},
		{"bad type", apflow.Executor[chan int, struct{}]{ID: "x", Run: func(*apflow.Context, chan int) (struct{}, error) { return struct{}{}, nil }},
			nil, "input schema"},
		{"hook without id", nil, &apflow.Hook{}, "hook has no ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := apflow.NewModule(tt.exec, tt.hook)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	type in struct {
		URL string `json:"url"`
	}
	m, err := apflow.NewModule(apflow.Executor[in, map[string]any]{
		ID: "fetch",
		Run: func(ctx *apflow.Context, in in) (map[string]any, error) {
			resp, err := ctx.HTTP(apflow.HTTPRequest{URL: in.URL, Headers: map[string]string{"X-Test": "1"}})
			if err != nil {
				return nil, err
			}
			return map[string]any{"status": resp.Status, "body": resp.Body, "ct": resp.Header("content-type")}, nil
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := apflowtest.For(t, m)
	if res := h.Execute(in{URL: "http://example.test/x"}); !res.Failed() || res.Code() != "http_refused" ||
		!strings.Contains(res.Error(), "not granted") {
		t.Fatalf("without a grant: %s", res.Raw)
	}
	h.Host.HTTP = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, r.Header.Get("X-Test"))
	})
	res := h.Execute(in{URL: "http://example.test/x"})
	if string(res.Raw) != `{"body":"GET /x 1","ct":"text/plain","status":418}` {
		t.Fatalf("result = %s", res.Raw)
	}
	reqs := h.Host.HTTPRequests()
	if len(reqs) != 2 || reqs[1]["method"] != "GET" {
		t.Errorf("recorded requests = %v", reqs)
	}
}

func TestLoggerFormatting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kv   []any
		want string
	}{
		{nil, "m"},
		{[]any{"a", 1, "b", "two words"}, `m a=1 b="two words"`},
		{[]any{"e", errBoom, "list", []int{1, 2}}, `m e="boom" list=[1,2]`},
		{[]any{"odd"}, `m !BADKEY=odd`},
		{[]any{"empty", ""}, `m empty=""`},
	}
	for _, tt := range tests {
		host := &apflowtest.Host{}
		apflow.NewContext(host).Log.Warn("m", tt.kv...)
		if got := host.Logs(); len(got) != 1 || got[0].Msg != tt.want || got[0].Level != apflow.LevelWarn {
			t.Errorf("kv %v: logged %+v, want %q", tt.kv, got, tt.want)
		}
	}
}

func TestErrorfUnwraps(t *testing.T) {
	t.Parallel()
	err := apflow.Errorf("outer: %w", errBoom)
	if !errors.Is(err, errBoom) {
		t.Error("Errorf does not wrap its %w operand")
	}
	var e *apflow.Error
	if !errors.As(fmt.Errorf("ctx: %w", err), &e) || e.Message != "outer: boom" {
		t.Error("an *Error wrapped by fmt.Errorf is not found by errors.As")
	}
}

func FuzzExecute(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"name":"a","mode":"panic"}`, `[]`, `null`, `{"times":1e400}`, "\xff"} {
		f.Add([]byte(s))
	}
	m, err := apflow.NewModule(apflow.Executor[greetIn, greetOut]{
		ID: "greet",
		Run: func(ctx *apflow.Context, in greetIn) (greetOut, error) {
			if in.Mode == "panic" {
				panic(in.Name)
			}
			return greetOut{Greeting: in.Name}, nil
		},
	}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		out := m.Execute(&apflowtest.Host{}, input)
		if !json.Valid(out) {
			t.Fatalf("input %q: invalid result %q", input, out)
		}
	})
}

// TestRawMessagePassesThrough: an executor taking and returning json.RawMessage gets the
// input bytes as sent, in a copy it may keep, and its result reaches the host as
// returned (not re-encoded), an empty one as null.
func TestRawMessagePassesThrough(t *testing.T) {
	t.Parallel()
	var kept json.RawMessage
	m, err := apflow.NewModule(apflow.Executor[json.RawMessage, json.RawMessage]{
		ID: "raw",
		Run: func(_ *apflow.Context, in json.RawMessage) (json.RawMessage, error) {
			kept = in
			if string(in) == `{"empty": true}` {
				return nil, nil
			}
			return json.RawMessage(`{"got":  ` + string(in) + `}`), nil
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, input, want string
	}{
		{"bytes as sent", `{"a": [1, 2.50]}`, `{"got":  {"a": [1, 2.50]}}`},
		{"empty result encodes as null", `{"empty": true}`, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { // not parallel: kept is shared
			input := []byte(tt.input)
			res := apflowtest.For(t, m).ExecuteRaw(input)
			if string(res.Raw) != tt.want {
				t.Fatalf("result %s, want %s", res.Raw, tt.want)
			}
			input[0] = 'X' // the host's buffer changes: the executor's copy does not
			if string(kept) != tt.input {
				t.Fatalf("the executor's input is %s, want a copy of %s", kept, tt.input)
			}
		})
	}
}
