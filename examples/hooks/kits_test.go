// Tests of the kit example hooks (examples/hooks/{rust,c,assemblyscript}): the modules
// `make kits` builds into build/plugins are loaded through the real sandbox, registry and
// hook runner. A language whose module is missing is skipped, or fails under
// APFLOW_REQUIRE_KITS=1 (CI), like examples/conformance.
package hooks_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/hooks"
	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// kitLangs are the kits with an example hook; the module of lang is hook_<lang>.wasm and
// its hook id is hook_<lang>. Only the C one has a hook config (executor "echo").
var kitLangs = []string{"rust", "c", "assemblyscript"}

// kitInputs exercises what a hook must keep unchanged: nested objects and arrays, escapes,
// integers beyond 2^53 up to the int64 limits, a fraction, booleans and null.
const kitInputs = `{"q":"x","nested":{"a":[1,{"b":null}],"s":"é\"\n\u0001"},"big":9007199254740993,` +
	`"max":9223372036854775807,"min":-9223372036854775808,"f":2.5,"t":true,"empty":{}}`

// kitWasm returns the built module of lang, skipping (or failing under
// APFLOW_REQUIRE_KITS) when `make kits` has not produced it.
func kitWasm(t *testing.T, lang string) []byte {
	t.Helper()
	p := filepath.Join("..", "..", "build", "plugins", "hook_"+lang+".wasm")
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("APFLOW_REQUIRE_KITS") != "" {
			t.Fatalf("%s missing (run `make kits`): %v", p, err)
		}
		t.Skipf("%s missing: run `make kits` to test the %s kit's hook", p, lang)
	}
	return b
}

// kitEnv is a runner over a registry holding some kit hooks.
type kitEnv struct {
	reg    *registry.Registry
	runner *hooks.Runner
	logs   *logbuf.Buffer
}

// setupKits loads the example hooks of langs into a fresh plugins directory and returns
// a runner calling them in that order.
func setupKits(t *testing.T, langs ...string) *kitEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ids := make([]string, 0, len(langs))
	for _, lang := range langs {
		id := "hook_" + lang
		if err := os.WriteFile(filepath.Join(dir, id+".wasm"), kitWasm(t, lang), 0o644); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	logs := &logbuf.Buffer{}
	log := hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})
	reg, err := registry.Open(ctx, registry.Options{Runtime: rt, Dir: dir, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Close(context.Background()) })
	if p := reg.Problems(); len(p) > 0 {
		t.Fatalf("kit hooks did not load: %v", p)
	}
	r, err := hooks.New(hooks.Config{Registry: reg, IDs: ids, Logger: log, Limits: task.Limits{TimeoutMS: 20_000}})
	if err != nil {
		t.Fatal(err)
	}
	return &kitEnv{reg: reg, runner: r, logs: logs}
}

// kitTask is an in-progress task of executor method named "task <id>".
func kitTask(id, method string) *task.Task {
	tk := newTask(id, task.InProgress)
	tk.Name = "task " + id
	tk.Schemas = map[string]any{"method": method}
	return tk
}

// decode parses a JSON object with numbers as json.Number, as the host does.
func decode(t *testing.T, doc string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// with returns a copy of doc (a JSON object) plus key = value, in canonical form.
func with(t *testing.T, doc, key string, value any) string {
	t.Helper()
	m := decode(t, doc)
	m[key] = value
	return jsonString(t, m)
}

func wantErrors(t *testing.T, errs []error, want ...string) {
	t.Helper()
	if len(errs) != len(want) {
		t.Fatalf("errors = %v, want %d matching %q", errs, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Fatalf("error %d = %q, want it to contain %q", i, errs[i], w)
		}
	}
}

// TestKitHookModules checks each module's roles: hook only (no executor), with the
// pre_hook and post_hook exports and, for C only, the executor filter.
func TestKitHookModules(t *testing.T) {
	t.Parallel()
	for _, lang := range kitLangs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			v := setupKits(t, lang)
			id := "hook_" + lang
			if _, err := v.reg.Lookup(id); err == nil || !strings.Contains(err.Error(), "is a hook, not an executor") {
				t.Fatalf("Lookup(%s) = %v: a hook-only module must not be an executor", id, err)
			}
			h, err := v.reg.Hook(id)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release()
			if got := strings.Join(h.HookExports(), ","); got != "pre_hook,post_hook" {
				t.Fatalf("hook exports = %s", got)
			}
			want := ""
			if lang == "c" {
				want = "echo"
			}
			if got := strings.Join(h.HookExecutors(), ","); got != want {
				t.Fatalf("hook executors = %q, want %q", got, want)
			}
		})
	}
}

func TestKitPreHook(t *testing.T) {
	t.Parallel()
	for _, lang := range kitLangs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			v := setupKits(t, lang)
			ctx := context.Background()
			in := decode(t, kitInputs)
			got, errs := v.runner.Pre(ctx, kitTask("t1", "echo"), in)
			wantErrors(t, errs)
			if s, want := jsonString(t, got), with(t, kitInputs, "_hooked_by", lang); s != want {
				t.Fatalf("inputs = %s\nwant     %s", s, want)
			}
			if s := jsonString(t, in); s != jsonString(t, decode(t, kitInputs)) {
				t.Fatalf("the caller's inputs were modified: %s", s)
			}

			// "fail_hook": true is the hook's own failure: reported, nothing changed.
			failing := with(t, kitInputs, "fail_hook", true)
			got, errs = v.runner.Pre(ctx, kitTask("t2", "echo"), decode(t, failing))
			wantErrors(t, errs, "hook hook_"+lang+" pre_hook: returned error: "+lang+" hook: fail_hook is set on task t2")
			if got != nil {
				t.Fatalf("a failing hook changed the inputs to %s", jsonString(t, got))
			}

			// Empty inputs: the task had none.
			got, errs = v.runner.Pre(ctx, kitTask("t3", "echo"), nil)
			wantErrors(t, errs)
			if s, want := jsonString(t, got), `{"_hooked_by":"`+lang+`"}`; s != want {
				t.Fatalf("inputs = %s, want %s", s, want)
			}
		})
	}
}

func TestKitPostHookLogs(t *testing.T) {
	t.Parallel()
	for _, lang := range kitLangs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			v := setupKits(t, lang)
			tk := kitTask("t1", "echo")
			tk.Status = task.Completed
			errs := v.runner.Post(context.Background(), tk, map[string]any{"q": "x"}, map[string]any{"ok": true})
			wantErrors(t, errs)
			logs := v.logs.String()
			if n := strings.Count(logs, "post task t1"); n != 1 {
				t.Fatalf("%d log lines with %q, want 1:\n%s", n, "post task t1", logs)
			}
			line := logLine(logs, "post task t1")
			if !strings.Contains(line, "[INFO]") || !strings.Contains(line, "hook=hook_"+lang) {
				t.Fatalf("log line %q: want level INFO and hook=hook_%s", line, lang)
			}
		})
	}
}

// logLine returns the first line of logs containing s, or "".
func logLine(logs, s string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// TestKitExecutorFilter: the C hook's get_hook_config limits it to executor "echo"; the
// others run around every task.
func TestKitExecutorFilter(t *testing.T) {
	t.Parallel()
	for _, lang := range kitLangs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			v := setupKits(t, lang)
			ctx := context.Background()
			filtered := lang == "c"
			for _, tk := range []*task.Task{kitTask("other", "other_executor"), paramsTask("byparam", "other_executor", "echo")} {
				skip := filtered && tk.ID == "other"
				got, errs := v.runner.Pre(ctx, tk, map[string]any{"q": "x"})
				wantErrors(t, errs)
				want := `{"_hooked_by":"` + lang + `","q":"x"}`
				if skip {
					want = "null"
				}
				if s := jsonString(t, got); s != want {
					t.Fatalf("task %s: inputs = %s, want %s", tk.ID, s, want)
				}
				tk.Status = task.Completed
				wantErrors(t, v.runner.Post(ctx, tk, map[string]any{}, nil))
				if logged := logLine(v.logs.String(), "post "+tk.Name) != ""; logged == skip {
					t.Fatalf("task %s: post_hook logged = %v, want %v:\n%s", tk.ID, logged, !skip, v.logs.String())
				}
			}
		})
	}
}

// paramsTask is a task whose params.executor_id (which wins over schemas.method) is exec.
func paramsTask(id, method, exec string) *task.Task {
	tk := kitTask(id, method)
	tk.Params = map[string]any{"executor_id": exec}
	return tk
}

// TestKitChain runs the three kit hooks in one chain: each pre-hook sees the inputs the
// previous one returned (its _hooked_by appends), a failing hook changes nothing and the
// chain continues, and the C hook is skipped around other executors.
func TestKitChain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		order   []string
		method  string
		inputs  string
		want    string // _hooked_by after the chain
		wantErr []string
	}{
		{"rust, c, assemblyscript", []string{"rust", "c", "assemblyscript"}, "echo", kitInputs, "rust,c,assemblyscript", nil},
		{"reversed", []string{"assemblyscript", "c", "rust"}, "echo", kitInputs, "assemblyscript,c,rust", nil},
		{"earlier value kept", []string{"c", "rust"}, "echo", `{"_hooked_by":"go"}`, "go,c,rust", nil},
		{"C skipped around another executor", []string{"rust", "c", "assemblyscript"}, "other", kitInputs, "rust,assemblyscript", nil},
		{"failing hook in the middle", []string{"rust", "c", "assemblyscript"}, "echo", with(t, kitInputs, "fail_hook", "c"),
			"rust,assemblyscript", []string{"hook hook_c pre_hook: returned error: c hook: fail_hook is set on task t1"}},
		{"failing first hook", []string{"assemblyscript", "rust"}, "echo", with(t, kitInputs, "fail_hook", "assemblyscript"),
			"rust", []string{"hook hook_assemblyscript pre_hook: returned error: assemblyscript hook: fail_hook is set on task t1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setupKits(t, tc.order...)
			got, errs := v.runner.Pre(context.Background(), kitTask("t1", tc.method), decode(t, tc.inputs))
			wantErrors(t, errs, tc.wantErr...)
			if s, want := jsonString(t, got), with(t, tc.inputs, "_hooked_by", tc.want); s != want {
				t.Fatalf("inputs = %s\nwant     %s", s, want)
			}
		})
	}
}
