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
		{"a small tree", 900_000, badgerstore.DefaultMemTableSize},
		{"just below the threshold", bigTreeBytes - 1, badgerstore.DefaultMemTableSize},
		{"at the threshold", bigTreeBytes, bigMemTableSize},
		{"a million small tasks", 88_000_000, bigMemTableSize},
	}
	for _, tc := range tests {
		if got := memTableSize(tc.treeBytes); got != tc.want {
			t.Errorf("%s: memTableSize(%d) = %d, want %d", tc.name, tc.treeBytes, got, tc.want)
		}
	}
	if bigMemTableSize <= badgerstore.DefaultMemTableSize {
		t.Errorf("bigMemTableSize %d is not above the default %d", bigMemTableSize, badgerstore.DefaultMemTableSize)
	}
}

// TestRunSizesTheStoreToItsTree: apflow run opens the store knowing the size of the
// file it submits, and other commands open it knowing none.
func TestRunSizesTheStoreToItsTree(t *testing.T) {
	dataDir, plugins := setup(t)
	path := writeTree(t, goodTree)
	code, _, stderr := apflow(t, "", "run", "-q", "--log-level", "debug", "--data-dir", dataDir, "--plugins", plugins, path)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	want := fmt.Sprintf("tree_bytes=%d memtable_size=%d", len(goodTree), badgerstore.DefaultMemTableSize)
	if !strings.Contains(stderr, want) {
		t.Errorf("run does not open the store with %q:\n%s", want, stderr)
	}
	code, _, stderr = apflow(t, "", "tasks", "list", "--log-level", "debug", "--data-dir", dataDir, "--plugins", plugins)
	if code != exitOK {
		t.Fatalf("tasks list: exit %d\n%s", code, stderr)
	}
	if want := "tree_bytes=0 "; !strings.Contains(stderr, want) {
		t.Errorf("tasks list does not open the store with %q:\n%s", want, stderr)
	}
}
