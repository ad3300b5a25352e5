package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// ids are the plugin directories, which are also the executor ids.
var ids = []string{"delay", "json_transform", "llm_executor", "math_ops", "rest_executor", "text_stats"}

var built struct {
	once sync.Once
	dir  string
	err  error
}

// buildAll builds every plugin for wasip1 once per test binary and returns the directory
// holding <id>.wasm. It skips the test in -short mode.
func buildAll(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("building wasm plugins is slow; skipped with -short")
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "apflow-plugins-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		for _, id := range ids {
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", filepath.Join(dir, id+".wasm"), "./"+id)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("build %s: %v\n%s", id, err, out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	api.Close()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func TestBuildForWasip1(t *testing.T) {
	t.Parallel()
	dir := buildAll(t)
	for _, id := range ids {
		b, err := os.ReadFile(filepath.Join(dir, id+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 8 || string(b[:4]) != "\x00asm" {
			t.Errorf("%s.wasm is not a wasm module", id)
		}
	}
}

// api is the HTTP server the rest_executor tests reach; it is granted to rest_executor
// (exact address) in the shared runtime.
var api = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"path": %q, "auth": %q, "q": %q}`, r.URL.Path, r.Header.Get("Authorization"), r.URL.RawQuery)
}))

var loaded struct {
	once sync.Once
	mods map[string]*sandbox.Module
	err  error
}

// setup returns every plugin loaded once per test binary into one sandbox runtime (loading
// compiles 4 MB modules, which is slow under the race detector). Only two have grants:
// rest_executor HTTP to the test API's address and the config key "token", and
// llm_executor llm, answered by the fake Completer completions.
func setup(t *testing.T) map[string]*sandbox.Module {
	t.Helper()
	dir := buildAll(t)
	loaded.once.Do(func() {
		api.Start()
		u, _ := url.Parse(api.URL)
		grants := map[string]sandbox.Grants{"rest_executor": {
			HTTP: []string{u.Hostname()}, Config: map[string]string{"token": "tok"},
		}, "llm_executor": {LLM: true}}
		ctx := context.Background()
		rt, err := sandbox.New(ctx, sandbox.Config{Grants: func(id string) sandbox.Grants { return grants[id] }, LLM: completions})
		if err != nil {
			loaded.err = err
			return
		}
		loaded.mods = map[string]*sandbox.Module{}
		for _, id := range ids {
			b, err := os.ReadFile(filepath.Join(dir, id+".wasm"))
			if err != nil {
				loaded.err = err
				return
			}
			m, err := rt.Load(ctx, b, id+".wasm")
			if err != nil {
				loaded.err = fmt.Errorf("load %s: %w", id, err)
				return
			}
			loaded.mods[id] = m
		}
	})
	if loaded.err != nil {
		t.Fatal(loaded.err)
	}
	return loaded.mods
}

type run struct {
	out      map[string]any
	raw      string
	progress []float64
	usage    task.Usage
}

func execute(t *testing.T, m *sandbox.Module, inputs string) run {
	t.Helper()
	var mu sync.Mutex
	var r run
	resp, err := m.Execute(context.Background(), &executor.Request{
		Task:   &task.Task{ID: "t-" + m.ID(), Name: m.ID()},
		Inputs: json.RawMessage(inputs),
		Logger: hclog.NewNullLogger(),
		Progress: func(p float64) {
			mu.Lock()
			defer mu.Unlock()
			r.progress = append(r.progress, p)
		},
	})
	if err != nil {
		t.Fatalf("%s: execute %s: %v", m.ID(), inputs, err)
	}
	r.raw = string(resp.Output)
	r.usage = resp.Usage
	_ = json.Unmarshal(resp.Output, &r.out)
	return r
}

func TestPluginsLoadInSandbox(t *testing.T) {
	t.Parallel()
	mods := setup(t)
	for _, id := range ids {
		info := mods[id].Info()
		if info.ID != id || info.Version != "1.0.0" || info.Name == "" || info.Kind != "wasm" {
			t.Errorf("%s: info = %+v", id, info)
		}
		if len(info.InputSchema) == 0 {
			t.Errorf("%s: missing input schema", id)
		}
		// json_transform returns whatever its template builds: an untyped output has no
		// schema, so its results are merged flat into dependents' inputs.
		if hasOut := len(info.OutputSchema) > 0; hasOut != (id != "json_transform") {
			t.Errorf("%s: output schema %s", id, info.OutputSchema)
		}
		if hooks := mods[id].HookExports(); len(hooks) != 0 {
			t.Errorf("%s: an executor-only Go plugin exports hooks %v", id, hooks)
		}
	}
}

func TestPluginsThroughSandbox(t *testing.T) {
	t.Parallel()
	mods := setup(t)
	tests := []struct {
		id, inputs string
		want       string // the whole result
	}{
		{"text_stats", `{"text": "the cat and the hat", "top": 2}`,
			`{"characters":19,"characters_no_spaces":15,"words":5,"unique_words":4,"lines":1,"sentences":1,"average_word_length":3,"top_words":[{"word":"the","count":2},{"word":"and","count":1}]}`},
		{"math_ops", `{"numbers": [1, 2, 3, 4], "round": 3}`,
			`{"count":4,"sum":10,"product":24,"mean":2.5,"median":2.5,"min":1,"max":4,"variance":1.25,"stddev":1.118}`},
		{"json_transform", `{"stats": {"words": 5}, "template": {"line": "{{stats.words}} words", "n": "{{stats.words}}"}}`,
			`{"line":"5 words","n":5}`},
		{"delay", `{"duration_ms": 0, "steps": 2, "message": "m"}`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			r := execute(t, mods[tt.id], tt.inputs)
			if tt.want != "" && r.raw != tt.want {
				t.Errorf("got  %s\nwant %s", r.raw, tt.want)
			}
			if _, failed := r.out["error"]; failed {
				t.Errorf("failed: %s", r.raw)
			}
		})
	}
}

func TestDelayReportsProgressInSandbox(t *testing.T) {
	t.Parallel()
	mods := setup(t)
	r := execute(t, mods["delay"], `{"duration_ms": 200, "steps": 4, "message": "hi"}`)
	if r.out["message"] != "hi" || r.out["steps"] != 4.0 {
		t.Errorf("result = %s", r.raw)
	}
	if len(r.progress) != 4 || r.progress[3] != 1 {
		t.Errorf("progress = %v, want 4 reports ending at 1", r.progress)
	}
}

func TestErrorsThroughSandbox(t *testing.T) {
	t.Parallel()
	mods := setup(t)
	// A plugin error is a result with an error key, not a sandbox error.
	r := execute(t, mods["json_transform"], `{"template": "{{missing}}"}`)
	if !strings.Contains(fmt.Sprint(r.out["error"]), `path "missing" not found`) || r.out["code"] != "template" {
		t.Errorf("result = %s", r.raw)
	}
	// A host outside the http grant is refused and the executor fails cleanly.
	r = execute(t, mods["rest_executor"], `{"url": "http://example.com/"}`)
	if r.out["code"] != "http_refused" {
		t.Errorf("rest_executor without grant = %s", r.raw)
	}
	// The host validates inputs against the derived schema before the plugin runs.
	_, err := mods["text_stats"].Execute(context.Background(), &executor.Request{
		Task: &task.Task{ID: "bad"}, Inputs: json.RawMessage(`{"top": 3}`), Logger: hclog.NewNullLogger(),
	})
	if err == nil || !strings.Contains(err.Error(), "text") {
		t.Errorf("missing required input: err = %v", err)
	}
}

func TestRestExecutorThroughSandbox(t *testing.T) {
	t.Parallel()
	mods := setup(t)
	r := execute(t, mods["rest_executor"], fmt.Sprintf(
		`{"url": %q, "params": {"a": 1}, "auth": {"type": "bearer", "token_config": "token"}}`, api.URL+"/v1/x"))
	want := map[string]any{"path": "/v1/x", "auth": "Bearer tok", "q": "a=1"}
	if r.out["success"] != true || fmt.Sprint(r.out["json"]) != fmt.Sprint(want) {
		t.Errorf("result = %s", r.raw)
	}
}

// fakeCompleter answers a completion with the last message's content in capitals, and
// "budget" with llm.ErrBudget.
type fakeCompleter struct{}

func (fakeCompleter) Complete(_ context.Context, req llm.Request) (*llm.Response, error) {
	last := req.Messages[len(req.Messages)-1].Content
	if last == "budget" {
		return nil, fmt.Errorf("task t-llm_executor: %w", llm.ErrBudget)
	}
	return &llm.Response{Content: strings.ToUpper(last), Model: "fake-1", StopReason: "end_turn",
		Usage: llm.Usage{InputTokens: int64(len(req.Messages)) * 10, OutputTokens: 1}}, nil
}

var completions llm.Completer = fakeCompleter{}

// TestLLMExecutorThroughSandbox: llm_executor asks the host's Completer through
// llm_complete, its result carries the answer, and the task's usage counts the tokens.
func TestLLMExecutorThroughSandbox(t *testing.T) {
	t.Parallel()
	mods := setup(t)
	r := execute(t, mods["llm_executor"], `{"system": "s", "messages": [{"role": "user", "content": "hi"}]}`)
	want := `{"content":"HI","model":"fake-1","stop_reason":"end_turn","usage":{"input_tokens":20,"output_tokens":1}}`
	if r.raw != want {
		t.Errorf("got  %s\nwant %s", r.raw, want)
	}
	if r.usage.LLMInputTokens != 20 || r.usage.LLMOutputTokens != 1 {
		t.Errorf("usage = %+v, want 20 input and 1 output tokens", r.usage)
	}
	r = execute(t, mods["llm_executor"], `{"messages": [{"role": "user", "content": "budget"}]}`)
	if r.out["code"] != "llm_budget_exceeded" || !strings.Contains(fmt.Sprint(r.out["error"]), "token budget exceeded") {
		t.Errorf("over budget = %s", r.raw)
	}
}
