package pluginshare

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/registry"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/store/pgstore"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/apflow-wasm/apflow/internal/logbuf"
	"github.com/apflow-wasm/apflow/internal/pgtest"
)

// The tests run nodes as a registry over its own temporary plugins directory and a
// Syncer, all on one sandbox runtime and one real PostgreSQL database. The modules are
// the registry's test plugins: "swap" in two versions (returning {"version":1} or
// {"version":2}) and "other".

var pg = pgtest.New()

func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }

// fixture reads one of the registry's test modules.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "registry", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testCluster is a database and a runtime that nodes share.
type testCluster struct {
	dsn   string
	store *pgstore.Store
	rt    *sandbox.Runtime
}

// node is one node's registry and Syncer; log is its log.
type node struct {
	id  string
	reg *registry.Registry
	s   *Syncer
	log *logbuf.Buffer
}

func setup(t *testing.T) *testCluster {
	t.Helper()
	ctx := context.Background()
	c := &testCluster{dsn: pg.Database(t)}
	var err error
	if c.store, err = pgstore.Open(ctx, pgstore.Options{DSN: c.dsn}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.store.Close() })
	if c.rt, err = sandbox.New(ctx, sandbox.Config{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.rt.Close(ctx) })
	return c
}

// nodeOpts are what a test varies between nodes.
type nodeOpts struct {
	files    map[string][]byte // the plugins directory's files at start
	reserved []string          // ids the node's registry refuses
}

// node opens a node on its own store of the database and plugins directory; it does not
// sync until the test calls Sync or Run.
func (c *testCluster) node(t *testing.T, id string, o nodeOpts) *node {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	for name, b := range o.files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := &node{id: id, log: &logbuf.Buffer{}}
	logger := hclog.New(&hclog.LoggerOptions{Name: id, Level: hclog.Info, Output: n.log})
	var err error
	n.reg, err = registry.Open(ctx, registry.Options{Runtime: c.rt, Dir: dir, Logger: logger,
		Reserved: o.reserved, NoMetadataCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.reg.Close(ctx) })
	st, err := pgstore.Open(ctx, pgstore.Options{DSN: c.dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	n.s, err = New(Options{Local: n.reg, Shared: st, NodeID: id, PollInterval: 20 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// run runs n's sync loop, on the poll alone, until the test ends.
func (n *node) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.s.Run(ctx, nil)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// hash is the sha256 of n's version of id, "" when it has none.
func (n *node) hash(id string) string {
	for _, info := range n.reg.List() {
		if info.ID == id {
			return info.Hash
		}
	}
	return ""
}

// waitHash waits until n's version of id has sha256 want ("": until it has none).
func (n *node) waitHash(t *testing.T, id, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n.hash(id) != want {
		if time.Now().After(deadline) {
			t.Fatalf("node %s: plugin %s has sha256 %q, want %q\n%s", n.id, id, n.hash(id), want, n.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (n *node) sync(t *testing.T) {
	t.Helper()
	if err := n.s.Sync(t.Context()); err != nil {
		t.Fatalf("node %s: Sync: %v", n.id, err)
	}
}

// execute runs the executor h and returns its result.
func execute(t *testing.T, h executor.Handle) map[string]any {
	t.Helper()
	resp, err := h.Execute(context.Background(), &executor.Request{Task: &task.Task{ID: "t"}, Inputs: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(resp.Output, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func shaOf(b []byte) string { return sha256Hex(b) }

// TestUploadReplaceRemoveReachOtherNode: what one node uploads, replaces and removes,
// the other installs, swaps and removes within a poll; a task running on the old
// version keeps it; the plugin deployed to the other node's directory alone stays.
func TestUploadReplaceRemoveReachOtherNode(t *testing.T) {
	t.Parallel()
	c := setup(t)
	v1, v2, other := fixture(t, "swap_v1.wasm"), fixture(t, "swap_v2.wasm"), fixture(t, "other.wasm")
	a := c.node(t, "a", nodeOpts{})
	b := c.node(t, "b", nodeOpts{files: map[string][]byte{"other.wasm": other}})
	a.run(t)
	b.run(t)

	if _, err := a.s.Add(t.Context(), "swap", v1); err != nil {
		t.Fatal(err)
	}
	b.waitHash(t, "swap", shaOf(v1))
	pinned, err := b.reg.Lookup("swap")
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Release()

	if _, err := a.s.Add(t.Context(), "swap", v2); err != nil {
		t.Fatal(err)
	}
	b.waitHash(t, "swap", shaOf(v2))
	if got := execute(t, pinned); got["version"] != float64(1) {
		t.Errorf("a lookup made before the swap ran %v, want version 1", got)
	}
	h, err := b.reg.Lookup("swap")
	if err != nil {
		t.Fatal(err)
	}
	if got := execute(t, h); got["version"] != float64(2) {
		t.Errorf("a lookup after the swap ran %v, want version 2", got)
	}
	h.Release()

	if err := a.s.Remove(t.Context(), "swap"); err != nil {
		t.Fatal(err)
	}
	if a.hash("swap") != "" {
		t.Error("Remove left the plugin on the node that removed it")
	}
	b.waitHash(t, "swap", "")
	if _, err := os.Stat(filepath.Join(b.reg.Dir(), "swap.wasm")); !os.IsNotExist(err) {
		t.Errorf("swap.wasm still in b's directory: %v", err)
	}
	b.sync(t)
	if got := b.hash("other"); got != shaOf(other) {
		t.Errorf("b's own plugin other: sha256 %q, want %s (a plugin the database never had is left alone)", got, shaOf(other))
	}
	if a.hash("other") != "" {
		t.Error("a plugin of b's directory reached a")
	}
}

// TestNoticesWakeTheLoop: with a poll interval longer than the test, the notice of a
// change alone makes the other node install it.
func TestNoticesWakeTheLoop(t *testing.T) {
	t.Parallel()
	c := setup(t)
	v1 := fixture(t, "swap_v1.wasm")
	a := c.node(t, "a", nodeOpts{})
	b := c.node(t, "b", nodeOpts{})
	b.s.opts.PollInterval = time.Hour
	member, err := pgstore.Join(t.Context(), c.store, pgstore.NodeOptions{ID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = member.Leave(context.Background()) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.s.Run(ctx, member.PluginNotices())
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if _, err := a.s.Add(t.Context(), "swap", v1); err != nil {
		t.Fatal(err)
	}
	b.waitHash(t, "swap", shaOf(v1))
}

// TestRemovalReachesANodeThatWasDown: a node that starts after an upload, a replace
// and a removal, holding the first version in its directory, removes it; a version of
// the id the database never held is left alone.
func TestRemovalReachesANodeThatWasDown(t *testing.T) {
	t.Parallel()
	c := setup(t)
	v1, v2, other := fixture(t, "swap_v1.wasm"), fixture(t, "swap_v2.wasm"), fixture(t, "other.wasm")
	a := c.node(t, "a", nodeOpts{})
	for _, m := range [][]byte{v1, v2} {
		if _, err := a.s.Add(t.Context(), "swap", m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.s.Add(t.Context(), "other", other); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"swap", "other"} {
		if err := a.s.Remove(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	// b held v1, a version the database held before v2 replaced it; d holds a swap it
	// was deployed with that the database never had.
	b := c.node(t, "b", nodeOpts{files: map[string][]byte{"swap.wasm": v1}})
	b.sync(t)
	if b.hash("swap") != "" {
		t.Errorf("b kept swap %s after the cluster removed it", b.hash("swap"))
	}
	d := c.node(t, "d", nodeOpts{files: map[string][]byte{"swap.wasm": tweak(t, v2)}})
	d.sync(t)
	d.sync(t)
	if got, want := d.hash("swap"), shaOf(tweak(t, v2)); got != want {
		t.Errorf("d's own swap: sha256 %q, want %s kept", got, want)
	}
	if n := len(d.log.Lines("kept on this node")); n != 1 {
		t.Errorf("d logged keeping its swap %d times, want once:\n%s", n, d.log)
	}
}

// tweak returns a copy of a module with a custom section appended: another sha256, the
// same plugin.
func tweak(t *testing.T, wasm []byte) []byte {
	t.Helper()
	// Custom section (id 0): size 5, name length 1, name "x", 3 bytes of content.
	return append(append([]byte{}, wasm...), 0, 5, 1, 'x', 1, 2, 3)
}

// TestBadModuleSharesNothing: a module that does not load is refused with the
// registry's InvalidParams error, and nothing reaches the database.
func TestBadModuleSharesNothing(t *testing.T) {
	t.Parallel()
	c := setup(t)
	a := c.node(t, "a", nodeOpts{})
	_, err := a.s.Add(t.Context(), "junk", []byte("not a wasm module"))
	if apferr.CodeOf(err) != apferr.InvalidParams {
		t.Fatalf("Add(junk) = %v, want an InvalidParams error", err)
	}
	if ps, err := c.store.SharedPlugins(t.Context()); err != nil || len(ps) != 0 {
		t.Errorf("shared after a refused upload: %+v, %v; want nothing", ps, err)
	}
}

// TestBlobNotMatchingItsSHAIsRefused: a module whose bytes do not hash to the sha256
// it is stored under is not loaded; the node keeps its version and tries again only
// when the id's sha256 changes.
func TestBlobNotMatchingItsSHAIsRefused(t *testing.T) {
	t.Parallel()
	c := setup(t)
	v1, v2 := fixture(t, "swap_v1.wasm"), fixture(t, "swap_v2.wasm")
	a := c.node(t, "a", nodeOpts{})
	b := c.node(t, "b", nodeOpts{})
	if _, err := a.s.Add(t.Context(), "swap", v1); err != nil {
		t.Fatal(err)
	}
	b.sync(t)
	if b.hash("swap") != shaOf(v1) {
		t.Fatalf("b: swap %q, want %s", b.hash("swap"), shaOf(v1))
	}
	// v2's sha256 holding v2 with one byte changed, and swap pointing at it.
	bad := append([]byte{}, v2...)
	bad[len(bad)-1] ^= 1
	c.exec(t, "INSERT INTO apflow_plugin_blobs (sha256, wasm) VALUES ($1, $2)", shaOf(v2), bad)
	c.exec(t, "UPDATE apflow_plugins SET sha256 = $1 WHERE plugin_id = 'swap'", shaOf(v2))
	b.sync(t)
	b.sync(t)
	if b.hash("swap") != shaOf(v1) {
		t.Errorf("b: swap %q after a bad blob, want %s kept", b.hash("swap"), shaOf(v1))
	}
	if n := len(b.log.Lines("hashes to " + shaOf(bad))); n != 1 {
		t.Errorf("b logged the bad blob %d times, want once:\n%s", n, b.log)
	}
	// Repaired under the same sha256: not tried again until the id changes.
	c.exec(t, "UPDATE apflow_plugin_blobs SET wasm = $1 WHERE sha256 = $2", v2, shaOf(v2))
	b.sync(t)
	if b.hash("swap") != shaOf(v1) {
		t.Errorf("b: swap %q, want %s until the id's sha256 changes", b.hash("swap"), shaOf(v1))
	}
	if _, err := a.s.Add(t.Context(), "swap", tweak(t, v2)); err != nil {
		t.Fatal(err)
	}
	b.sync(t)
	if b.hash("swap") != shaOf(tweak(t, v2)) {
		t.Errorf("b: swap %q, want the new version %s", b.hash("swap"), shaOf(tweak(t, v2)))
	}
}

// exec runs a statement on the database directly (the tests' way to corrupt it).
func (c *testCluster) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestPluginFailingHereIsLoggedOnce: a shared version this node refuses (its id is
// reserved here) is logged with the id and the reason, not retried every pass, and
// retried when the id's sha256 changes.
func TestPluginFailingHereIsLoggedOnce(t *testing.T) {
	t.Parallel()
	c := setup(t)
	v1, v2 := fixture(t, "swap_v1.wasm"), fixture(t, "swap_v2.wasm")
	a := c.node(t, "a", nodeOpts{})
	b := c.node(t, "b", nodeOpts{reserved: []string{"swap"}})
	if _, err := a.s.Add(t.Context(), "swap", v1); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b.sync(t)
	}
	lines := b.log.Lines("not loaded on this node")
	if len(lines) != 1 || !strings.Contains(lines[0], "id=swap") || !strings.Contains(lines[0], "reserved") {
		t.Fatalf("b's log of the refused plugin: %q, want one line naming swap and why\n%s", lines, b.log)
	}
	if _, err := a.s.Add(t.Context(), "swap", v2); err != nil {
		t.Fatal(err)
	}
	b.sync(t)
	if n := len(b.log.Lines("not loaded on this node")); n != 2 {
		t.Errorf("b logged %d refusals after the sha256 changed, want 2 (tried again once)", n)
	}
	if b.hash("swap") != "" {
		t.Error("b registered a reserved id")
	}
}

// TestConcurrentUploadsConverge: two nodes uploading two versions of one id at once
// both end with the version the database holds.
func TestConcurrentUploadsConverge(t *testing.T) {
	t.Parallel()
	c := setup(t)
	v1, v2 := fixture(t, "swap_v1.wasm"), fixture(t, "swap_v2.wasm")
	a := c.node(t, "a", nodeOpts{})
	b := c.node(t, "b", nodeOpts{})
	a.run(t)
	b.run(t)
	for round := range 5 {
		var wg sync.WaitGroup
		for _, x := range []struct {
			n *node
			m []byte
		}{{a, v1}, {b, v2}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := x.n.s.Add(t.Context(), "swap", x.m); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		ps, err := c.store.SharedPlugins(t.Context())
		if err != nil || len(ps) != 1 {
			t.Fatalf("round %d: shared %+v, %v", round, ps, err)
		}
		a.waitHash(t, "swap", ps[0].SHA256)
		b.waitHash(t, "swap", ps[0].SHA256)
	}
}
