package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/api"
	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/config"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/generate"
	"github.com/apflow-wasm/apflow/host/llm"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/internal/llmfake"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// apflowWith runs the CLI in-process with model as the operator's language model (nil:
// none wired).
func apflowWith(t *testing.T, model llm.Completer, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut logbuf.Buffer
	g := &globals{stdout: &out, stderr: &errOut}
	if model != nil {
		g.newCompleter = func(*config.Config) (llm.Completer, error) { return model, nil }
	}
	code := executeWith(context.Background(), g, args, strings.NewReader(""))
	return code, out.String(), errOut.String()
}

// twoEchoes has two roots: apflow generate wraps them in an aggregator root.
const twoEchoes = "```json\n" + `[
  {"name": "a", "schemas": {"method": "echo"}, "inputs": {"x": 1}},
  {"name": "b", "schemas": {"method": "echo"}, "inputs": {"y": 2}, "dependencies": ["a"]}
]` + "\n```"

func TestGenerateCommand(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	base := []string{"generate", "--data-dir", dataDir, "--plugins", plugins}

	code, stdout, stderr := apflowWith(t, llmfake.NewScript(twoEchoes), append(base, "echo twice")...)
	var tree []map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &tree) != nil || len(tree) != 3 || !strings.Contains(stderr, "generated 3 task(s) in 1 round(s)") {
		t.Fatalf("to stdout: exit %d\n%s\n%s", code, stdout, stderr)
	}

	out := filepath.Join(t.TempDir(), "tree.json")
	code, stdout, stderr = apflowWith(t, llmfake.NewScript(twoEchoes), append(base, "--save", "-o", out, "echo twice")...)
	if code != exitOK || stdout != "" || !strings.Contains(stderr, "saved: root task ") {
		t.Fatalf("--save -o: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &tree) != nil || len(tree) != 3 {
		t.Fatalf("-o file: %s, %v", b, err)
	}
	root := strings.TrimSpace(stderr[strings.Index(stderr, "saved: root task ")+len("saved: root task "):])
	if code, stdout, stderr := apflow(t, "", "tasks", "get", "--data-dir", dataDir, "--plugins", plugins, root); code != exitOK || !strings.Contains(stdout, "aggregate_results_executor") {
		t.Fatalf("saved root %s: exit %d\n%s\n%s", root, code, stdout, stderr)
	}

	code, stdout, stderr = apflowWith(t, llmfake.NewScript(twoEchoes), append(base, "--run", "-q", "echo twice")...)
	if code != exitOK || !strings.Contains(stdout, "completed") {
		t.Fatalf("--run: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestGenerateCommandFailures(t *testing.T) {
	dataDir, plugins := setup(t)
	base := []string{"generate", "--data-dir", dataDir, "--plugins", plugins}
	cases := []struct {
		name  string
		model llm.Completer
		args  []string
		code  int
		want  string
	}{
		{name: "not configured", args: []string{"r"}, code: exitFailed, want: "no provider is configured"},
		{name: "no valid tree", model: llmfake.NewScript(`[{"name": "x", "schemas": {"method": "nope"}}]`), args: []string{"r"}, code: exitInvalid, want: `"nope" is not registered`},
		{name: "budget", model: llmfake.NewScript(), args: []string{"--mode", "multi", "r"}, code: exitFailed, want: "token budget exceeded"},
		{name: "bad mode", model: llmfake.NewScript(), args: []string{"--mode", "both", "r"}, code: exitInvalid, want: "mode"},
	}
	for _, c := range cases {
		code, stdout, stderr := apflowWith(t, c.model, append(base, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("%s: exit %d (want %d)\nstdout %s\nstderr %s", c.name, code, c.code, stdout, stderr)
		}
	}
}

// TestGenerateCommandRemote: with --server the server generates (tasks.generate): the
// tree is written, --save stores it there, --run submits and follows it.
func TestGenerateCommandRemote(t *testing.T) {
	t.Parallel()
	// Two aggregator roots: wrapped in a third; runnable with the built-ins only.
	answer := `[{"name": "a", "schemas": {"method": "aggregate_results_executor"}}, {"name": "b", "schemas": {"method": "aggregate_results_executor"}}]`
	model := llmfake.NewScript("analysis", "design", answer, answer, answer) // multi (3 calls), then two single
	st := memstore.New()
	cat := builtin.Catalog()
	eng, err := engine.New(engine.Config{Store: st, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	prepare := api.SubmitPrepare(cat, st, nil, nil, 0)
	gen, err := generate.New(generate.Config{Completer: model, Catalog: cat, Validate: func(ctx context.Context, tree []byte) error {
		_, err := prepare(ctx, tree, api.Owner{})
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Store: st, Keys: st, Engine: eng, Catalog: cat, Prepare: prepare, Generator: gen, KeepAlive: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = eng.Close(ctx)
		_ = st.Close()
	})

	code, stdout, stderr := apflowWith(t, nil, "generate", "--server", hs.URL, "--mode", "multi", "r")
	var tree []map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &tree) != nil || len(tree) != 3 {
		t.Fatalf("remote: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n, _ := st.Count(context.Background(), store.Filter{}); n != 0 {
		t.Fatalf("without --save the server stored %d tasks", n)
	}
	code, stdout, stderr = apflowWith(t, nil, "generate", "--server", hs.URL, "--save", "r")
	if n, _ := st.Count(context.Background(), store.Filter{}); code != exitOK || n != 3 || !strings.Contains(stderr, "saved: root task ") {
		t.Fatalf("remote --save: exit %d, %d stored\n%s\n%s", code, n, stdout, stderr)
	}
	code, stdout, stderr = apflowWith(t, nil, "generate", "--server", hs.URL, "--run", "-q", "r")
	if code != exitOK || !strings.Contains(stdout, "completed") {
		t.Fatalf("remote --run: exit %d\n%s\n%s", code, stdout, stderr)
	}
}
