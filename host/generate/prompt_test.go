package generate

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestPromptGolden: the prompts of each mode, for the test catalog, are byte for byte
// those of testdata/*.golden (go test -run TestPromptGolden -update rewrites them).
func TestPromptGolden(t *testing.T) {
	g, fake := setup(t, setupOpts{steps: append(phases(cycleTree), step{content: goodTree})})
	if _, err := g.Generate(t.Context(), Request{Requirement: "Fetch two pages and count their words.", Mode: Multi}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, m := range fake.reqs[len(fake.reqs)-1].Messages {
		b.WriteString("=== " + m.Role + "\n" + m.Content + "\n")
	}
	golden(t, "multi.golden", b.String())
	g, fake = setup(t, setupOpts{steps: []step{{content: goodTree}}})
	if _, err := g.Generate(t.Context(), Request{Requirement: "Fetch two pages and count their words."}); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	for _, m := range fake.reqs[0].Messages {
		b.WriteString("=== " + m.Role + "\n" + m.Content + "\n")
	}
	golden(t, "single.golden", b.String())
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs; got:\n%s", name, got)
	}
}

// TestSystemPromptDeterministic: the catalog's order does not change the prompt, and
// the generator itself is not offered.
func TestSystemPromptDeterministic(t *testing.T) {
	infos := newTestCatalog(t).List()
	rev := make([]*executor.Info, len(infos))
	for i, in := range infos {
		rev[len(infos)-1-i] = in
	}
	a, b := systemPrompt(infos), systemPrompt(rev)
	if a != b {
		t.Error("the prompt depends on the catalog's order")
	}
	if strings.Contains(a, "## "+ExecutorID) {
		t.Error("the prompt offers generate_executor")
	}
	if p := systemPrompt(append(infos, &executor.Info{ID: "audit_hook", Kind: "hook"})); p != a {
		t.Error("the prompt offers a hook module")
	}
	for _, want := range []string{"## fetch_executor", `Input schema: {"type":"object","properties":{"url":{"type":"string"}},"required":["url"]}`, "Output schema: none (any object)"} {
		if !strings.Contains(a, want) {
			t.Errorf("prompt lacks %q", want)
		}
	}
}

// TestSystemPromptBounded: a huge description or schema is cut (and says so), and the
// catalog section stops at maxCatalogBytes, naming the executors it leaves out.
func TestSystemPromptBounded(t *testing.T) {
	huge := strings.Repeat("word ", 10000)
	bigSchema := `{"type":"object","description":"` + strings.Repeat("x", 10000) + `"}`
	infos := []*executor.Info{{ID: "a_executor", Description: huge, InputSchema: []byte(bigSchema)}}
	for i := range 200 {
		infos = append(infos, &executor.Info{ID: fmt.Sprintf("z%03d_executor", i), Description: huge, OutputSchema: []byte(bigSchema)})
	}
	p := systemPrompt(infos)
	catalog := p[strings.Index(p, "# Executor catalog"):]
	if len(catalog) > maxCatalogBytes+200*20 {
		t.Errorf("catalog section is %d bytes, want about %d", len(catalog), maxCatalogBytes)
	}
	if !strings.Contains(p, "Description: word word") || strings.Contains(p, strings.Repeat("word ", 300)) {
		t.Error("description not cut to about 1 KiB")
	}
	if !strings.Contains(p, "(schema cut at 4096 bytes)") {
		t.Error("a cut schema is not marked")
	}
	if !strings.Contains(p, "z199_executor") || strings.Contains(p, "## z199_executor") {
		t.Error("the executors left out are not named by id")
	}
}
