package conformance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// langs are the kits under test. Go is always built by the test; the others are taken
// from build/plugins (make kits). Set APFLOW_REQUIRE_KITS=1 (CI) to fail instead of skip
// when one is missing.
var langs = []string{"go", "rust", "c", "assemblyscript"}

const (
	wantInputSchema  = `{"type":"object","properties":{"text":{"type":"string"},"numbers":{"type":"array","items":{"type":"integer"}},"fail":{"type":"boolean"},"url":{"type":"string"}},"required":["text"]}`
	wantOutputSchema = `{"type":"object","properties":{"length":{"type":"integer"},"upper":{"type":"string"},"sum":{"type":"integer"},"count":{"type":"integer"},"lang":{"type":"string"},"http_status":{"type":"integer"},"http_body":{"type":"string"},"http_error":{"type":"string"}},"required":["length","upper","sum","count","lang"]}`
)

// plugin is one language's conformance module loaded in its own runtime.
type plugin struct {
	lang string
	mod  *sandbox.Module
}

// run is what one execution produced.
type run struct {
	Output   map[string]any
	Err      string
	Progress []float64
	Logs     []string // "level: message"
}

var goBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildGo compiles the Go variant once per test binary.
func buildGo(t testing.TB) string {
	t.Helper()
	goBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "conformance-go")
		if err != nil {
			goBuild.err = err
			return
		}
		goBuild.path = filepath.Join(dir, "conformance_go.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", goBuild.path, "./go")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		goBuild.out, goBuild.err = cmd.CombinedOutput()
	})
	if goBuild.err != nil {
		t.Fatalf("build conformance_go: %v\n%s", goBuild.err, goBuild.out)
	}
	return goBuild.path
}

// wasmPath finds the module of lang, skipping (or failing under APFLOW_REQUIRE_KITS) when
// it has not been built.
func wasmPath(t testing.TB, lang string) string {
	t.Helper()
	if lang == "go" {
		return buildGo(t)
	}
	return kitModule(t, "conformance_"+lang)
}

// kitModule is the path of build/plugins/NAME.wasm, built by `make kits`; the test is
// skipped when it is missing, or fails with APFLOW_REQUIRE_KITS set.
func kitModule(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "build", "plugins", name+".wasm")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("APFLOW_REQUIRE_KITS") != "" {
			t.Fatalf("%s missing (run `make kits`): %v", p, err)
		}
		t.Skipf("%s missing: run `make kits` to build it", p)
	}
	return p
}

// setup loads every language's module with the given grants.
func setup(t *testing.T, grants sandbox.Grants) []plugin {
	t.Helper()
	ctx := context.Background()
	var ps []plugin
	for _, lang := range langs {
		wasm, err := os.ReadFile(wasmPath(t, lang))
		if err != nil {
			t.Fatal(err)
		}
		rt, err := sandbox.New(ctx, sandbox.Config{Grants: func(string) sandbox.Grants { return grants }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close(ctx) })
		mod, err := rt.Load(ctx, wasm, "conformance_"+lang+".wasm")
		if err != nil {
			t.Fatalf("load %s: %v", lang, err)
		}
		ps = append(ps, plugin{lang: lang, mod: mod})
	}
	return ps
}

func (p plugin) execute(t *testing.T, inputs string) run {
	t.Helper()
	var r run
	var logs logbuf.Buffer
	var mu sync.Mutex
	req := &executor.Request{
		Inputs: json.RawMessage(inputs),
		Progress: func(v float64) {
			mu.Lock()
			defer mu.Unlock()
			r.Progress = append(r.Progress, v)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace, JSONFormat: true}),
	}
	resp, err := p.mod.Execute(context.Background(), req)
	if err != nil {
		r.Err = err.Error()
	} else if err := json.Unmarshal(resp.Output, &r.Output); err != nil {
		t.Fatalf("%s: result %s is not a JSON object: %v", p.lang, resp.Output, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if line == "" {
			continue
		}
		var entry struct {
			Level   string `json:"@level"`
			Message string `json:"@message"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("%s: log line %q: %v", p.lang, line, err)
		}
		// Trace and debug lines are the host's own (e.g. one per http_request); the
		// specification's log line is at info.
		if entry.Level != "trace" && entry.Level != "debug" {
			r.Logs = append(r.Logs, entry.Level+": "+entry.Message)
		}
	}
	return r
}

// withoutLang returns r's output without "lang" after checking it names the language.
func withoutLang(t *testing.T, lang string, r run) run {
	t.Helper()
	if r.Output == nil {
		return r
	}
	if _, isErr := r.Output["error"]; !isErr && r.Output["lang"] != lang {
		t.Errorf("%s: lang = %v", lang, r.Output["lang"])
	}
	out := make(map[string]any, len(r.Output))
	for k, v := range r.Output {
		if k != "lang" {
			out[k] = v
		}
	}
	r.Output = out
	return r
}

func TestConformanceSchemasAndMetadata(t *testing.T) {
	t.Parallel()
	for _, p := range setup(t, sandbox.Grants{}) {
		info := p.mod.Info()
		if info.ID != "conformance_"+p.lang {
			t.Errorf("%s: id %q", p.lang, info.ID)
		}
		var in, out bytes.Buffer
		if err := json.Compact(&in, info.InputSchema); err != nil || in.String() != wantInputSchema {
			t.Errorf("%s: input schema %s (%v)", p.lang, info.InputSchema, err)
		}
		if err := json.Compact(&out, info.OutputSchema); err != nil || out.String() != wantOutputSchema {
			t.Errorf("%s: output schema %s (%v)", p.lang, info.OutputSchema, err)
		}
		if !reflect.DeepEqual(info.Capabilities, []string{"http"}) || info.Version != "1.0.0" {
			t.Errorf("%s: capabilities %v version %q", p.lang, info.Capabilities, info.Version)
		}
	}
}

func TestConformanceResults(t *testing.T) {
	t.Parallel()
	ps := setup(t, sandbox.Grants{})
	cases := []struct {
		name   string
		inputs string
		want   run // without lang
	}{
		{
			name:   "basic",
			inputs: `{"text":"héllo, wörld \"q\"","numbers":[1,2,3,-4]}`,
			want: run{
				Output:   map[string]any{"length": 18.0, "upper": `HéLLO, WöRLD "Q"`, "sum": 2.0, "count": 4.0},
				Progress: []float64{0.5, 1},
				Logs:     []string{"info: conformance: processing 18 bytes"},
			},
		},
		{
			name:   "empty text, no numbers",
			inputs: `{"text":""}`,
			want: run{
				Output:   map[string]any{"length": 0.0, "upper": "", "sum": 0.0, "count": 0.0},
				Progress: []float64{0.5, 1},
				Logs:     []string{"info: conformance: processing 0 bytes"},
			},
		},
		{
			name:   "escapes, NUL and astral characters",
			inputs: `{"text":"a\u0000b\n\t\\\"😀\u001fz","numbers":[],"fail":false,"url":""}`,
			want: run{
				Output:   map[string]any{"length": 13.0, "upper": "A\x00B\n\t\\\"😀\x1fZ", "sum": 0.0, "count": 0.0},
				Progress: []float64{0.5, 1},
				Logs:     []string{"info: conformance: processing 13 bytes"},
			},
		},
		{
			name:   "large integers",
			inputs: `{"text":"n","numbers":[9007199254740991,-9007199254740991,5,-6]}`,
			want: run{
				Output:   map[string]any{"length": 1.0, "upper": "N", "sum": -1.0, "count": 4.0},
				Progress: []float64{0.5, 1},
				Logs:     []string{"info: conformance: processing 1 bytes"},
			},
		},
		{
			name:   "requested failure",
			inputs: `{"text":"boom","fail":true}`,
			want: run{
				Output:   map[string]any{"error": "requested failure", "code": "E_REQUESTED"},
				Progress: []float64{0.5},
				Logs:     []string{"info: conformance: processing 4 bytes"},
			},
		},
	}
	for _, tc := range cases {
		for _, p := range ps {
			// Twice: the second call runs on a reused instance (results freed, state clean).
			for i := 0; i < 2; i++ {
				got := withoutLang(t, p.lang, p.execute(t, tc.inputs))
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s/%s #%d:\n got %+v\nwant %+v", tc.name, p.lang, i, got, tc.want)
				}
			}
		}
	}
}

func TestConformanceInvalidInputsRejectedAlike(t *testing.T) {
	t.Parallel()
	ps := setup(t, sandbox.Grants{})
	for _, inputs := range []string{`{}`, `{"text":1}`, `{"text":"x","numbers":[1.5]}`} {
		var first string
		for i, p := range ps {
			got := p.execute(t, inputs)
			if got.Err == "" {
				t.Errorf("%s: %s accepted: %+v", p.lang, inputs, got)
				continue
			}
			// The host validates before the guest runs: the message differs only by plugin
			// name and module hash.
			msg := strings.ReplaceAll(got.Err, "conformance_"+p.lang, "conformance_X")
			if h := p.mod.Hash(); len(h) >= 12 {
				msg = strings.ReplaceAll(msg, h[:12], "HASH")
			}
			if i == 0 {
				first = msg
			} else if msg != first {
				t.Errorf("%s: %s: error %q, want %q", p.lang, inputs, msg, first)
			}
			if len(got.Logs) != 0 || len(got.Progress) != 0 {
				t.Errorf("%s: guest ran on invalid inputs: %+v", p.lang, got)
			}
		}
	}
}

func TestConformanceHTTP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "want GET", http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte("pong \"" + r.URL.Path + "\"\n"))
	}))
	t.Cleanup(srv.Close)
	inputs := `{"text":"hi","url":"` + srv.URL + `/ping"}`

	granted := setup(t, sandbox.Grants{HTTP: []string{"127.0.0.1"}})
	for _, p := range granted {
		got := withoutLang(t, p.lang, p.execute(t, inputs))
		want := run{
			Output:   map[string]any{"length": 2.0, "upper": "HI", "sum": 0.0, "count": 0.0, "http_status": 202.0, "http_body": "pong \"/ping\"\n"},
			Progress: []float64{0.5, 1},
			Logs:     []string{"info: conformance: processing 2 bytes"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("granted/%s:\n got %+v\nwant %+v", p.lang, got, want)
		}
	}

	var first any
	for i, p := range setup(t, sandbox.Grants{}) {
		got := withoutLang(t, p.lang, p.execute(t, inputs))
		msg, ok := got.Output["http_error"].(string)
		if !ok || msg == "" || got.Output["http_status"] != nil {
			t.Errorf("refused/%s: %+v", p.lang, got)
			continue
		}
		// The host's message names the plugin; the rest must be passed through verbatim.
		got.Output["http_error"] = strings.ReplaceAll(msg, "conformance_"+p.lang, "conformance_X")
		if i == 0 {
			first = got.Output
		} else if !reflect.DeepEqual(got.Output, first) {
			t.Errorf("refused/%s: %v, want %v", p.lang, got.Output, first)
		}
	}
}
