package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/badgerstore"
	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestKVCacheSurvivesRestart runs examples/plugins/go/cached_executor's tree with the
// built binary, each run a new process: on Badger (one data dir) the first run computes
// and the second answers "cached": true from the store the first left on disk; on
// PostgreSQL the second run is another node (another data dir) and answers from the
// database.
func TestKVCacheSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and a Go plugin")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	plugins := t.TempDir()
	build := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath",
		"-o", filepath.Join(plugins, "cached_executor.wasm"), "../../examples/plugins/go/cached_executor")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build cached_executor: %v\n%s", err, out)
	}
	example := "../../examples/plugins/go/cached_executor/"
	cached := func(what string, args ...string) bool {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{"run", "--json", "--plugins", plugins,
			"--config", example + "config.json"}, args...), example+"tree.json")...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		var tree struct {
			Task struct {
				Status string `json:"status"`
				Result struct {
					Primes int  `json:"primes"`
					Cached bool `json:"cached"`
				} `json:"result"`
			} `json:"task"`
		}
		if err := json.Unmarshal(out, &tree); err != nil || tree.Task.Status != "completed" || tree.Task.Result.Primes != 348513 {
			t.Fatalf("%s: %v, tree %s", what, err, out)
		}
		return tree.Task.Result.Cached
	}

	dataDir := t.TempDir()
	if cached("first Badger run", "--data-dir", dataDir) {
		t.Fatal("first Badger run: cached on an empty store")
	}
	if !cached("second Badger run", "--data-dir", dataDir) {
		t.Fatal("second Badger run, a new process: not cached")
	}

	dsn := pg.Database(t)
	if cached("first PostgreSQL run", "--store", dsn, "--data-dir", t.TempDir()) {
		t.Fatal("first PostgreSQL run: cached on an empty database")
	}
	if !cached("second PostgreSQL run", "--store", dsn, "--data-dir", t.TempDir()) {
		t.Fatal("second PostgreSQL run, another node: not cached")
	}
}

// TestKVCommands drives apflow kv spaces and kv drop on a data dir's store, then
// through a server holding it (--server, admin only).
func TestKVCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs apflow serve")
	}
	t.Parallel()
	dataDir, plugins := setup(t)
	st, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(dataDir, "db")})
	if err != nil {
		t.Fatal(err)
	}
	cache, alice, bob := store.KVSpace{Plugin: "cache"}, store.KVSpace{Plugin: "cache", Scope: "alice"}, store.KVSpace{Plugin: "cache", Scope: "bob"}
	for _, sp := range []store.KVSpace{cache, alice, bob, {Plugin: "other"}} {
		req := store.KVSetRequest{Space: sp, Entry: store.KVEntry{Key: "k", Value: []byte(`"v"`)},
			Quota: store.KVQuota{MaxBytes: 1 << 20, MaxKeys: 10}, Now: time.Now()}
		if _, err := st.KVSet(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	local := []string{"--data-dir", dataDir}
	spaces := func(t *testing.T, args ...string) []store.KVSpaceUsage {
		t.Helper()
		code, stdout, stderr := apflow(t, "", append([]string{"kv", "spaces", "--json"}, args...)...)
		var out []store.KVSpaceUsage
		if err := json.Unmarshal([]byte(stdout), &out); code != exitOK || err != nil {
			t.Fatalf("kv spaces --json: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
		}
		return out
	}
	names := func(list []store.KVSpaceUsage) []string {
		var out []string
		for _, su := range list {
			out = append(out, su.Space.String())
		}
		return out
	}
	entry := store.KVUsage{Keys: 1, Bytes: 4}

	// A data dir that does not exist yet holds no space, and is not made to say so.
	fresh := filepath.Join(t.TempDir(), "fresh")
	if got := spaces(t, "--data-dir", fresh); len(got) != 0 {
		t.Fatalf("spaces of a fresh data dir: %v", got)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("kv spaces made the fresh data dir: %v", err)
	}

	code, stdout, stderr := apflow(t, "", append([]string{"kv", "spaces", "--plugin", "cache"}, local...)...)
	if code != exitOK || !strings.Contains(stdout, "PLUGIN  USER   KEYS  BYTES\ncache   -      1     4\ncache   alice  1     4\ncache   bob    1     4\n") {
		t.Fatalf("kv spaces --plugin cache: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr = apflow(t, "", append([]string{"kv", "drop", "cache", "--user", "alice", "--all-users"}, local...)...); code != exitInvalid || !strings.Contains(stderr, "give one or the other") {
		t.Fatalf("kv drop --user --all-users: exit %d, %s", code, stderr)
	}
	code, stdout, stderr = apflow(t, "", append([]string{"kv", "drop", "cache", "--user", "alice"}, local...)...)
	if code != exitOK || !strings.Contains(stdout, "cache   alice  1     4") {
		t.Fatalf("kv drop cache --user alice: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := names(spaces(t, local...)); !slices.Equal(got, []string{"plugin cache", "plugin cache (user bob)", "plugin other"}) {
		t.Fatalf("after dropping alice's space: %q", got)
	}

	bin := apflowbin.Build(t)
	const secret = "kv-commands-secret-for-tests"
	srv := startServe(t, bin, dataDir, plugins, secret)
	if code, _, stderr = apflow(t, "", append([]string{"kv", "spaces"}, local...)...); code == exitOK || !strings.Contains(stderr, "pass --server") {
		t.Fatalf("kv spaces on a data dir a server holds: exit %d, %s", code, stderr)
	}
	admin := []string{"--server", srv.url, "--token", mintToken(t, bin, secret, "ops", true)}
	user := []string{"--server", srv.url, "--token", mintToken(t, bin, secret, "alice", false)}
	if code, _, stderr = apflow(t, "", append([]string{"kv", "spaces"}, user...)...); code == exitOK || !strings.Contains(stderr, "needs the admin role") {
		t.Fatalf("kv spaces --server as a user: exit %d, %s", code, stderr)
	}
	code, stdout, stderr = apflow(t, "", append([]string{"kv", "drop", "cache", "--all-users", "--json"}, admin...)...)
	var dropped []store.KVSpaceUsage
	if err := json.Unmarshal([]byte(stdout), &dropped); code != exitOK || err != nil || len(dropped) != 2 || dropped[0].Usage != entry || dropped[1].Usage != entry {
		t.Fatalf("kv drop cache --all-users --server: exit %d, %v\n%s\n%s", code, err, stdout, stderr)
	}
	if got := names(spaces(t, admin...)); !slices.Equal(got, []string{"plugin other"}) {
		t.Fatalf("after dropping every space of cache through the server: %q", got)
	}
}
