package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

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

// TestMemTableBytes: --memtable-bytes sizes the Badger store of any command that opens
// one, over the size apflow run would choose, $APFLOW_SERVER set or not for a command
// that talks to no server; it is refused out of its range and where no Badger store is
// opened, before the data dir is created.
func TestMemTableBytes(t *testing.T) {
	dataDir, plugins := setup(t)
	tree := writeTree(t, goodTree)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int    // -1: any but exitInvalid (serve fails on its address once its store is open)
		want string // in stderr
	}{
		{"run", nil, []string{"--memtable-bytes", "4194304", "run", "-q", tree}, exitOK, "memtable_size=4194304"},
		{"the smallest", nil, []string{"--memtable-bytes", "1048576", "tasks", "list"}, exitOK, "memtable_size=1048576"},
		{"the largest", nil, []string{"tasks", "list", "--memtable-bytes", "67108864"}, exitOK, "memtable_size=67108864"},
		{"resume, $APFLOW_SERVER set", map[string]string{"APFLOW_SERVER": "http://127.0.0.1:1"}, []string{"--memtable-bytes", "2097152", "resume"}, exitOK, "memtable_size=2097152"},
		{"serve, $APFLOW_SERVER set", map[string]string{"APFLOW_SERVER": "http://127.0.0.1:1"}, []string{"serve", "--addr", "127.0.0.1:-1", "--memtable-bytes", "5242880"}, -1, "memtable_size=5242880"},
		{"too small", nil, []string{"--memtable-bytes", "1048575", "run", "-q", tree}, exitInvalid, "--memtable-bytes 1048575: want 1 MiB to 64 MiB"},
		{"too large", nil, []string{"--memtable-bytes", "67108865", "run", "-q", tree}, exitInvalid, "--memtable-bytes 67108865: want 1 MiB to 64 MiB"},
		{"zero", nil, []string{"--memtable-bytes", "0", "run", "-q", tree}, exitInvalid, "--memtable-bytes 0: want"},
		{"with --server", nil, []string{"--memtable-bytes", "4194304", "--server", "http://127.0.0.1:1", "run", "-q", tree}, exitInvalid, "with --server (or $APFLOW_SERVER) the server's store is used"},
		{"with $APFLOW_SERVER", map[string]string{"APFLOW_SERVER": "http://127.0.0.1:1"}, []string{"--memtable-bytes", "4194304", "run", "-q", tree}, exitInvalid, "with --server (or $APFLOW_SERVER) the server's store is used"},
		{"with --ephemeral", nil, []string{"--memtable-bytes", "4194304", "run", "-q", "--ephemeral", tree}, exitInvalid, "--ephemeral keeps the run in memory"},
		{"with --store", nil, []string{"--memtable-bytes", "4194304", "--store", "postgres://u@127.0.0.1:1/db", "run", "-q", tree}, exitInvalid, "--store (or $APFLOW_STORE) chooses a PostgreSQL one"},
		{"with $APFLOW_STORE", map[string]string{"APFLOW_STORE": "postgres://u@127.0.0.1:1/db"}, []string{"--memtable-bytes", "4194304", "run", "-q", tree}, exitInvalid, "--store (or $APFLOW_STORE) chooses a PostgreSQL one"},
		{"a command without a store", nil, []string{"--memtable-bytes", "4194304", "token", "--sub", "u", "--jwt-secret", "s"}, exitInvalid, "which apflow token does not open"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := dataDir
			if tc.code == exitInvalid {
				dir = filepath.Join(t.TempDir(), "data") // a refusal must not create it
			}
			args := append([]string{"--log-level", "debug", "--data-dir", dir, "--plugins", plugins}, tc.args...)
			if tc.env["APFLOW_SERVER"] != "" && tc.code == exitInvalid || slices.Contains(tc.args, "--server") {
				// A command that talks to a server takes no --data-dir: the default's.
				t.Setenv("APFLOW_HOME", dir)
				args = append([]string{"--log-level", "debug"}, tc.args...)
			}
			code, _, stderr := apflow(t, "", args...)
			if code != tc.code && (tc.code != -1 || code == exitInvalid) || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q in:\n%s", code, tc.code, tc.want, stderr)
			}
			if _, err := os.Stat(dir); tc.code == exitInvalid && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("refused, yet the data dir %s was created (%v)", dir, err)
			}
		})
	}
}

// TestMemTableAdvice: a server whose Badger store has the default memtables says once,
// at its first request of bigTreeBytes or more, which memtables such requests are faster
// with; not for smaller requests, and not where the operator chose a size, the store is
// not Badger or the body limit refuses such a request.
func TestMemTableAdvice(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	g := globals{}
	advise := g.memTableAdvice(bigTreeBytes, hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info}))
	if os.Getenv("APFLOW_STORE") != "" {
		t.Skip("APFLOW_STORE is set: the store is not Badger")
	}
	for _, n := range []int{100, bigTreeBytes - 1, bigTreeBytes, bigTreeBytes + 1, 5 * bigTreeBytes} {
		advise(n)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "--memtable-bytes 33554432") ||
		!strings.Contains(lines[0], fmt.Sprintf("request_bytes=%d", bigTreeBytes)) {
		t.Errorf("advice logged %q, want one line for the request of bigTreeBytes", out.String())
	}
	tests := []struct {
		name    string
		g       globals
		maxBody int64
	}{
		{"Badger, --memtable-bytes", globals{memTableBytes: 4 << 20}, bigTreeBytes},
		{"PostgreSQL", globals{storeURL: "postgres://localhost/apflow"}, bigTreeBytes},
		{"in memory", globals{ephemeral: true}, bigTreeBytes},
		{"a body limit under bigTreeBytes", globals{}, bigTreeBytes - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.g.memTableAdvice(tc.maxBody, hclog.NewNullLogger()) != nil {
				t.Error("advice given, want none")
			}
		})
	}
}
