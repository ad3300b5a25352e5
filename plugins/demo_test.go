package plugins

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"testing"

	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/submit"
)

// catalog serves the sandboxed plugins and falls back to the built-ins.
type catalog struct {
	mods     map[string]*sandbox.Module
	builtins executor.Catalog
}

type handle struct{ *sandbox.Module }

func (handle) Release() {}

func (c catalog) Lookup(id string) (executor.Handle, error) {
	if m, ok := c.mods[id]; ok {
		return handle{m}, nil
	}
	return c.builtins.Lookup(id)
}

func (c catalog) List() []*executor.Info {
	out := c.builtins.List()
	for _, m := range c.mods {
		out = append(out, m.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TestDemoTree validates examples/demo/tree.json against the real plugins' schemas and
// runs its data path (word-stats and number-stats injected into summary) through the
// sandbox, checking the summary the demo README shows.
func TestDemoTree(t *testing.T) {
	t.Parallel()
	mods := setup(t)
	data, err := os.ReadFile("../examples/demo/tree.json")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := submit.Prepare(context.Background(), data, submit.Options{Catalog: catalog{mods, builtin.Catalog()}})
	if err != nil {
		t.Fatalf("the demo tree does not validate: %v", err)
	}
	byID := map[string]map[string]any{}
	for _, tk := range tasks {
		byID[tk.ID] = tk.Inputs
	}
	if len(tasks) != 5 || byID["summary"] == nil {
		t.Fatalf("tasks = %d, ids %v", len(tasks), byID)
	}

	words := execute(t, mods["text_stats"], mustJSON(t, byID["word-stats"]))
	numbers := execute(t, mods["math_ops"], mustJSON(t, byID["number-stats"]))
	// Injection (docs/semantics.md rule 11): both dependencies declare output schemas
	// with named properties, so their results are kept under their task ids.
	inputs := map[string]any{}
	for k, v := range byID["summary"] {
		inputs[k] = v
	}
	inputs["word-stats"] = words.out
	inputs["number-stats"] = numbers.out
	summary := execute(t, mods["json_transform"], mustJSON(t, inputs))
	want := `{"headline":"31 words, 3 sentences; numbers average 10.39","note":"computed offline by WASM plugins",` +
		`"spread":{"max":21,"min":3.5,"stddev":5.5},"top_word":"EVERY"}`
	if summary.raw != want {
		t.Errorf("summary = %s\nwant      %s", summary.raw, want)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
