package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/store/badgerstore"
)

func TestMemTableSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		treeBytes int
		want      int64
	}{
		{"no tree (serve, resume)", 0, badgerstore.DefaultMemTableSize},
		{"a one-task tree", 80, smallMemTableSize},
		{"10,000 small tasks", 840_000, smallMemTableSize},
		{"just below the small threshold", smallTreeBytes - 1, smallMemTableSize},
		{"at the small threshold", smallTreeBytes, badgerstore.DefaultMemTableSize},
		{"100,000 small tasks", 8_600_000, badgerstore.DefaultMemTableSize},
		{"just below the threshold", bigTreeBytes - 1, badgerstore.DefaultMemTableSize},
		{"at the threshold", bigTreeBytes, bigMemTableSize},
		{"a million small tasks", 88_000_000, bigMemTableSize},
	}
	for _, tc := range tests {
		if got := memTableSize(tc.treeBytes); got != tc.want {
			t.Errorf("%s: memTableSize(%d) = %d, want %d", tc.name, tc.treeBytes, got, tc.want)
		}
	}
	if smallMemTableSize >= badgerstore.DefaultMemTableSize {
		t.Errorf("smallMemTableSize %d is not below the default %d", smallMemTableSize, badgerstore.DefaultMemTableSize)
	}
	if bigMemTableSize <= badgerstore.DefaultMemTableSize {
		t.Errorf("bigMemTableSize %d is not above the default %d", bigMemTableSize, badgerstore.DefaultMemTableSize)
	}
}

// TestRunSizesTheStoreToItsTree: apflow run opens the store with memtables sized to
// the tree it submits as compact JSON (as the store itself reports them), other
// commands with the default.
func TestRunSizesTheStoreToItsTree(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a store with 32 MiB memtables")
	}
	dataDir, plugins := setup(t)
	small := writeTree(t, goodTree)
	// Blanks between tokens do not count: the same tree indented by a megabyte.
	indented := writeTree(t, strings.ReplaceAll(goodTree, "\n", "\n"+strings.Repeat(" ", smallTreeBytes/4)))
	// Strings count: the tree with children whose inputs hold strings, up to the sizes
	// that get other memtables (a task's stored value has a size limit: a megabyte each).
	padded := func(size int) string {
		k := size>>20 + 1
		tree := func(pads []string) string {
			var b strings.Builder
			b.WriteString(strings.TrimSuffix(goodTree, "]"))
			for i, pad := range pads {
				fmt.Fprintf(&b, `, {"name": "pad%d", "parent_id": "report", "schemas": {"method": "echo"}, "inputs": {"pad": "%s"}}`, i, pad)
			}
			return b.String() + "]"
		}
		pads := make([]string, k)
		need := size - compactSize([]byte(tree(pads)))
		for i := range pads {
			n := need / k
			if i == k-1 {
				n = need - (k-1)*(need/k)
			}
			pads[i] = strings.Repeat("x", n)
		}
		return writeTree(t, tree(pads))
	}
	mid, big := padded(smallTreeBytes), padded(bigTreeBytes)
	tests := []struct {
		name string
		args []string
		want int64
	}{
		{"a small tree", []string{"run", "-q", small}, smallMemTableSize},
		{"a small tree, indented", []string{"run", "-q", "--max-tree-bytes", fmt.Sprint(2 * smallTreeBytes), indented}, smallMemTableSize},
		{"a mid-sized tree", []string{"run", "-q", mid}, badgerstore.DefaultMemTableSize},
		{"a large tree", []string{"run", "-q", "--max-tree-bytes", fmt.Sprint(2 * bigTreeBytes), big}, bigMemTableSize},
		{"a command that submits no tree", []string{"tasks", "list"}, badgerstore.DefaultMemTableSize},
	}
	for _, tc := range tests {
		args := append([]string{"--log-level", "debug", "--data-dir", dataDir, "--plugins", plugins}, tc.args...)
		code, _, stderr := apflow(t, "", args...)
		if code != exitOK {
			t.Fatalf("%s: exit %d\n%s", tc.name, code, stderr)
		}
		if want := fmt.Sprintf("memtable_size=%d", tc.want); !strings.Contains(stderr, want) {
			t.Errorf("%s: the store does not report %s:\n%s", tc.name, want, stderr)
		}
	}
}
