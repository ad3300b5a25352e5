package pgstore

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// listed returns the shared plugins by id.
func listed(t *testing.T, s *Store) map[string]sharedRow {
	t.Helper()
	ps, err := s.SharedPlugins(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sharedRow{}
	for _, p := range ps {
		if p.ChangedAt.IsZero() {
			t.Errorf("plugin %s: no changed_at", p.ID)
		}
		out[p.ID] = sharedRow{p.SHA256, p.Removed, p.Change, p.ChangedBy}
	}
	return out
}

type sharedRow struct {
	sha     string
	removed bool
	change  int64
	by      string
}

func TestSharedPluginsPutReplaceRemove(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	ctx := t.Context()
	v1, v2 := []byte("\x00asm version one"), []byte("\x00asm version two")
	h1, h2 := sha256Hex(v1), sha256Hex(v2)

	if err := s.PutPlugin(ctx, "p", h1, v1, "a"); err != nil {
		t.Fatal(err)
	}
	first := listed(t, s)["p"]
	if first.sha != h1 || first.removed || first.by != "a" {
		t.Fatalf("after put: %+v, want sha %s by a", first, h1)
	}
	// The same module again (another id, the same bytes): the blob is written once.
	if err := s.PutPlugin(ctx, "q", h1, v1, "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPlugin(ctx, "p", h2, v2, "b"); err != nil {
		t.Fatal(err)
	}
	rows := listed(t, s)
	if p := rows["p"]; p.sha != h2 || p.removed || p.by != "b" || p.change <= first.change {
		t.Fatalf("after replace: %+v, want sha %s by b, change after %d", p, h2, first.change)
	}
	if q := rows["q"]; q.sha != h1 {
		t.Fatalf("q: %+v, want sha %s", q, h1)
	}
	var blobs int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM apflow_plugin_blobs").Scan(&blobs); err != nil {
		t.Fatal(err)
	}
	if blobs != 2 {
		t.Errorf("%d blobs, want 2 (one per distinct module)", blobs)
	}
	for sha, want := range map[string][]byte{h1: v1, h2: v2} {
		got, err := s.PluginBlob(ctx, sha)
		if err != nil || string(got) != string(want) {
			t.Errorf("PluginBlob(%s) = %q, %v; want %q", sha, got, err, want)
		}
	}

	removed, err := s.RemovePlugin(ctx, "p", "c")
	if err != nil || !removed {
		t.Fatalf("RemovePlugin = %v, %v; want true", removed, err)
	}
	p := listed(t, s)["p"]
	if !p.removed || p.sha != h2 || p.by != "c" {
		t.Fatalf("after remove: %+v, want a tombstone of %s by c", p, h2)
	}
	// Removing again, or an id never shared, changes nothing.
	for _, id := range []string{"p", "never"} {
		if removed, err := s.RemovePlugin(ctx, id, "c"); err != nil || removed {
			t.Errorf("RemovePlugin(%s) = %v, %v; want false", id, removed, err)
		}
	}
	if again := listed(t, s); again["p"] != p || len(again) != 2 {
		t.Errorf("after removing twice: %+v, want p unchanged and no row for never", again)
	}
	// The removed version's blob stays: nodes that still run it can tell it came from
	// the cluster.
	if have, err := s.HasPluginBlob(ctx, h2); err != nil || !have {
		t.Errorf("HasPluginBlob(removed version) = %v, %v; want true", have, err)
	}
	// Uploading again brings the id back.
	if err := s.PutPlugin(ctx, "p", h1, v1, "a"); err != nil {
		t.Fatal(err)
	}
	if p := listed(t, s)["p"]; p.removed || p.sha != h1 {
		t.Errorf("after upload over the tombstone: %+v, want sha %s, not removed", p, h1)
	}
}

func TestSharedPluginsRefuseBadInput(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	ctx := t.Context()
	wasm := []byte("\x00asm")
	if err := s.PutPlugin(ctx, "p", sha256Hex([]byte("other")), wasm, "a"); err == nil {
		t.Error("PutPlugin with a sha256 that is not the module's: no error")
	}
	if err := s.PutPlugin(ctx, "", sha256Hex(wasm), wasm, "a"); err == nil {
		t.Error("PutPlugin with no id: no error")
	}
	if ps, err := s.SharedPlugins(ctx); err != nil || len(ps) != 0 {
		t.Errorf("after refused puts: %+v, %v; want nothing shared", ps, err)
	}
	if _, err := s.PluginBlob(ctx, sha256Hex(wasm)); !errors.Is(err, ErrNoPluginBlob) {
		t.Errorf("PluginBlob(missing) = %v, want ErrNoPluginBlob", err)
	}
	if have, err := s.HasPluginBlob(ctx, sha256Hex(wasm)); err != nil || have {
		t.Errorf("HasPluginBlob(missing) = %v, %v; want false", have, err)
	}
}

// TestSharedPluginsConcurrentPuts: nodes sharing one id at once, with the same or
// different modules, all succeed, and the row holds one of them.
func TestSharedPluginsConcurrentPuts(t *testing.T) {
	t.Parallel()
	s, dsn := setup(t, Options{})
	other := open(t, Options{DSN: dsn})
	mods := [][]byte{[]byte("\x00asm a"), []byte("\x00asm b"), []byte("\x00asm a")}
	var wg sync.WaitGroup
	errs := make([]error, len(mods))
	for i, m := range mods {
		st := s
		if i%2 == 1 {
			st = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.PutPlugin(t.Context(), "p", sha256Hex(m), m, "n")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("put %d: %v", i, err)
		}
	}
	if p := listed(t, s)["p"]; p.sha != sha256Hex(mods[0]) && p.sha != sha256Hex(mods[1]) {
		t.Errorf("p: %+v, want one of the modules put", p)
	}
}

// TestPluginNotices: a change made through any store of the database reaches every
// node's PluginNotices.
func TestPluginNotices(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, time.Second)
	for _, n := range []*Node{a, b} { // the notice of (re)connecting
		drainPluginNotice(n)
	}
	wasm := []byte("\x00asm")
	if err := sa.PutPlugin(t.Context(), "p", sha256Hex(wasm), wasm, "a"); err != nil {
		t.Fatal(err)
	}
	waitPluginNotice(t, a, "put")
	waitPluginNotice(t, b, "put")
	if _, err := sa.RemovePlugin(t.Context(), "p", "a"); err != nil {
		t.Fatal(err)
	}
	waitPluginNotice(t, b, "remove")
}

func drainPluginNotice(n *Node) {
	select {
	case <-n.PluginNotices():
	case <-time.After(time.Second):
	}
}

func waitPluginNotice(t *testing.T, n *Node, what string) {
	t.Helper()
	select {
	case <-n.PluginNotices():
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s: no plugin notice after %s", n.NodeID(), what)
	}
}
