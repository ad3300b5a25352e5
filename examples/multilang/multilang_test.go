package multilang_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// repoRoot is the module root, relative to this package.
const repoRoot = "../.."

// plugins are the executors of tree.json and the language each is written in.
var plugins = map[string]string{
	"word_freq":      "Rust",
	"checksum":       "C",
	"numeric_stats":  "AssemblyScript",
	"json_transform": "Go",
	"text_stats":     "Go",
	"math_ops":       "Go",
}

// node is the part of `apflow run --json` output the test reads.
type node struct {
	Task struct {
		ID     string  `json:"id"`
		Name   string  `json:"name"`
		Status string  `json:"status"`
		Error  *string `json:"error"`
		Plugin *string `json:"plugin"`
		Result any     `json:"result"`
		Schema struct {
			Method string `json:"method"`
		} `json:"schemas"`
		Inputs map[string]any `json:"inputs"`
	} `json:"task"`
	Children []node `json:"children"`
}

// setup returns the plugins directory (build/plugins) and the built apflow binary, or
// skips when the plugins of the kits were not built (make plugins kits), unless
// APFLOW_REQUIRE_KITS=1 makes that a failure.
func setup(t *testing.T) (pluginsDir, bin string) {
	t.Helper()
	required := os.Getenv("APFLOW_REQUIRE_KITS") == "1"
	if testing.Short() && !required {
		t.Skip("builds the apflow binary and runs the tree")
	}
	pluginsDir = filepath.Join(repoRoot, "build", "plugins")
	var missing []string
	for id := range plugins {
		if _, err := os.Stat(filepath.Join(pluginsDir, id+".wasm")); err != nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		msg := fmt.Sprintf("%s lacks %v: run make plugins kits", pluginsDir, missing)
		if required {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return pluginsDir, apflowbin.Build(t)
}

// TestMultiLanguageTree runs tree.json through `apflow run` on the built plugins and
// checks each language's result against a Go computation of the same thing, the Go
// summary against the results it was given, and that each task ran the plugin file of
// build/plugins (by content hash).
func TestMultiLanguageTree(t *testing.T) {
	t.Parallel()
	pluginsDir, bin := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--json", "--keep-ids", "--data-dir", t.TempDir(), "--plugins", pluginsDir, "tree.json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("apflow run: %v\nstderr:\n%s", err, stderr.String())
	}
	var root node
	if err := json.Unmarshal(out, &root); err != nil {
		t.Fatalf("apflow run --json: %v\n%s", err, out)
	}
	if root.Task.Status != "completed" {
		t.Fatalf("root %s: %v", root.Task.Status, root.Task.Error)
	}
	byID := map[string]node{}
	for _, c := range root.Children {
		byID[c.Task.ID] = c
	}
	if len(byID) != 6 {
		t.Fatalf("root has %d children, want 6", len(byID))
	}
	text, values := sourceInputs(t, byID)

	results := map[string]map[string]any{}
	for id, n := range byID {
		res, ok := n.Task.Result.(map[string]any)
		if n.Task.Status != "completed" || !ok {
			t.Fatalf("%s (%s) is %s with result %v: %v", id, n.Task.Schema.Method, n.Task.Status, n.Task.Result, n.Task.Error)
		}
		results[id] = res
		want := fileHash(t, filepath.Join(pluginsDir, n.Task.Schema.Method+".wasm"))
		if n.Task.Plugin == nil || *n.Task.Plugin != want {
			t.Errorf("%s ran plugin %v, want the %s build of %s (%s)", id, n.Task.Plugin, plugins[n.Task.Schema.Method], n.Task.Schema.Method, want)
		}
	}

	words := countWords(text)
	sum, mean, median, minV, maxV := stats(values)
	tests := []struct {
		lang, task, path string
		want             any
	}{
		{"Rust", "rust-words", "words", float64(words)},
		{"Rust", "rust-words", "top_words.0.word", "sandbox"},
		{"Rust", "rust-words", "top_words.0.count", 3.0},
		{"C", "c-checksum", "bytes", float64(len(text))},
		{"C", "c-checksum", "crc32", fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(text)))},
		{"C", "c-checksum", "fnv1a64", fnv64a(text)},
		{"AssemblyScript", "as-stats", "count", float64(len(values))},
		{"AssemblyScript", "as-stats", "sum", sum},
		{"AssemblyScript", "as-stats", "mean", mean},
		{"AssemblyScript", "as-stats", "median", median},
		{"AssemblyScript", "as-stats", "min", minV},
		{"AssemblyScript", "as-stats", "max", maxV},
		{"Go", "go-text-stats", "words", float64(words)},
		{"Go", "go-math", "mean", mean},
		// The Go summary holds what the other languages produced: the data flowed.
		{"Go", "summary", "words.rust", lookup(results["rust-words"], "words")},
		{"Go", "summary", "words.go", lookup(results["go-text-stats"], "words")},
		{"Go", "summary", "top_word.rust", lookup(results["rust-words"], "top_words.0.word")},
		{"Go", "summary", "checksum.crc32", lookup(results["c-checksum"], "crc32")},
		{"Go", "summary", "checksum.fnv1a64", lookup(results["c-checksum"], "fnv1a64")},
		{"Go", "summary", "mean.assemblyscript", lookup(results["as-stats"], "mean")},
		{"Go", "summary", "mean.go", lookup(results["go-math"], "mean")},
		{"Go", "summary", "sum.assemblyscript", lookup(results["as-stats"], "sum")},
		{"Go", "summary", "headline", fmt.Sprintf("%d words (Rust), CRC-32 %08x (C), mean %v (AssemblyScript)",
			words, crc32.ChecksumIEEE([]byte(text)), lookup(results["as-stats"], "mean"))},
	}
	for _, tc := range tests {
		t.Run(tc.lang+"/"+tc.task+"/"+tc.path, func(t *testing.T) {
			got := lookup(results[tc.task], tc.path)
			if !equal(got, tc.want) {
				t.Errorf("%s %s = %v (%T), want %v (%T)", tc.task, tc.path, got, got, tc.want, tc.want)
			}
		})
	}
	agg, _ := root.Task.Result.(map[string]any)
	if lookup(agg, "results.summary.mean.go") == nil {
		t.Errorf("the aggregator root lacks the summary: %v", root.Task.Result)
	}
}

// sourceInputs returns the text given to the Rust, C and Go text steps and the numbers
// given to the AssemblyScript and Go math steps, checking the tree gives each the same.
func sourceInputs(t *testing.T, byID map[string]node) (string, []float64) {
	t.Helper()
	text, _ := byID["rust-words"].Task.Inputs["text"].(string)
	for _, id := range []string{"c-checksum", "go-text-stats"} {
		if byID[id].Task.Inputs["text"] != text {
			t.Fatalf("%s does not analyse the same text as rust-words", id)
		}
	}
	raw, _ := byID["as-stats"].Task.Inputs["values"].([]any)
	if fmt.Sprint(byID["go-math"].Task.Inputs["numbers"]) != fmt.Sprint(raw) || len(raw) == 0 || text == "" {
		t.Fatalf("as-stats and go-math do not get the same numbers: %v / %v", raw, byID["go-math"].Task.Inputs["numbers"])
	}
	values := make([]float64, len(raw))
	for i, v := range raw {
		values[i], _ = v.(float64)
	}
	return text, values
}

// countWords counts runs of letters and digits, the word rule of word_freq and text_stats.
func countWords(s string) int {
	return len(strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }))
}

func stats(v []float64) (sum, mean, median, minV, maxV float64) {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	for _, x := range s {
		sum += x
	}
	mean = sum / float64(len(s))
	if n := len(s); n%2 == 1 {
		median = s[n/2]
	} else {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return sum, mean, median, s[0], s[len(s)-1]
}

func fnv64a(s string) string {
	h := fnv.New64a()
	h.Write([]byte(s))
	return fmt.Sprintf("%016x", h.Sum64())
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// lookup follows a dotted path (numeric segments index arrays); nil when missing.
func lookup(v any, path string) any {
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			var i int
			if _, err := fmt.Sscan(seg, &i); err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// equal compares JSON values; numbers within a relative 1e-12.
func equal(a, b any) bool {
	fa, aok := a.(float64)
	fb, bok := b.(float64)
	if aok && bok {
		return fa == fb || math.Abs(fa-fb) <= 1e-12*math.Max(math.Abs(fa), math.Abs(fb))
	}
	return fmt.Sprint(a) == fmt.Sprint(b) && a != nil
}
