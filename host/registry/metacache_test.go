package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// process opens a registry over dir with the metadata cache in metaDir and a runtime of
// its own, as one apflow process would; both close when the test ends.
func process(t *testing.T, dir, metaDir string) (*Registry, *sandbox.Runtime) {
	t.Helper()
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	r, err := Open(ctx, Options{Runtime: rt, Dir: dir, MetadataDir: metaDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	return r, rt
}

// warmSetup writes files (file name → fixture) into a fresh plugins dir and runs one
// process over it, which fills the metadata cache. It returns the dir and the cache dir.
func warmSetup(t *testing.T, files map[string]string) (dir, metaDir string) {
	t.Helper()
	dir, metaDir = t.TempDir(), t.TempDir()
	for file, fx := range files {
		writeFile(t, filepath.Join(dir, file), fixture(t, fx))
	}
	r, rt := process(t, dir, metaDir)
	if s := rt.Stats(); s.Loads != int64(len(files)) || s.Described != 0 {
		t.Fatalf("cold start: stats %+v, want %d loads", s, len(files))
	}
	if len(r.Problems()) != 0 {
		t.Fatalf("cold start problems: %v", r.Problems())
	}
	return dir, metaDir
}

func descPath(metaDir, fx string, t *testing.T) string {
	return filepath.Join(metaDir, sandbox.Hash(fixture(t, fx))+".json")
}

func TestMetadataCacheHitRegistersWithoutLoading(t *testing.T) {
	t.Parallel()
	dir, metaDir := warmSetup(t, map[string]string{"swap.wasm": "swap_v1.wasm", "other.wasm": "other.wasm"})
	r, rt := process(t, dir, metaDir)
	if s := rt.Stats(); s.Loads != 0 || s.Described != 2 || s.Compiles != 0 || s.Instances != 0 {
		t.Fatalf("warm start: stats %+v, want 2 described and nothing compiled or instantiated", s)
	}
	var ids []string
	for _, p := range r.Plugins() {
		ids = append(ids, p.Info.ID+":"+p.Info.Kind)
		if p.Pool.Created != 0 {
			t.Fatalf("plugin %s has %d instances before any call", p.Info.ID, p.Pool.Created)
		}
	}
	if strings.Join(ids, ",") != "other:wasm,swap:wasm" {
		t.Fatalf("plugins = %v", ids)
	}
	if got := lookupRun(t, r, "swap")["version"]; got != 1.0 {
		t.Fatalf("swap returned version %v, want 1", got)
	}
	if s := rt.Stats(); s.Compiles != 1 || s.Instances != 1 {
		t.Fatalf("after one task: stats %+v, want only swap compiled and instantiated", s)
	}
}

func TestMetadataCacheFallsBackToLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spoil func(t *testing.T, metaDir string)
	}{
		{"corrupt description", func(t *testing.T, metaDir string) {
			if err := os.WriteFile(descPath(metaDir, "swap_v1.wasm", t), []byte(`{"format":1,`), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"other format", func(t *testing.T, metaDir string) {
			p := descPath(metaDir, "swap_v1.wasm", t)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var d map[string]any
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			d["format"] = sandbox.DescriptionFormat + 1
			b, _ = json.Marshal(d)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"description missing", func(t *testing.T, metaDir string) {
			if err := os.Remove(descPath(metaDir, "swap_v1.wasm", t)); err != nil {
				t.Fatal(err)
			}
		}},
		{"corrupt hash index", func(t *testing.T, metaDir string) {
			// The files are hashed again; their descriptions still apply.
			if err := os.WriteFile(filepath.Join(metaDir, hashIndexFile), []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, metaDir := warmSetup(t, map[string]string{"swap.wasm": "swap_v1.wasm", "other.wasm": "other.wasm"})
			tt.spoil(t, metaDir)
			r, rt := process(t, dir, metaDir)
			wantLoads := int64(1)
			if tt.name == "corrupt hash index" {
				wantLoads = 0
			}
			if s := rt.Stats(); s.Loads != wantLoads || s.Loads+s.Described != 2 {
				t.Fatalf("stats %+v, want %d full loads", s, wantLoads)
			}
			if got := lookupRun(t, r, "swap")["version"]; got != 1.0 || len(r.Problems()) != 0 {
				t.Fatalf("swap version %v, problems %v", got, r.Problems())
			}
			// The cache is whole again: a third process loads nothing.
			_, rt3 := process(t, dir, metaDir)
			if s := rt3.Stats(); s.Loads != 0 || s.Described != 2 {
				t.Fatalf("third start: stats %+v, want everything from the cache", s)
			}
		})
	}
}

// TestMetadataCacheOfAnotherRelease: descriptions another release wrote (another
// DescriptionFormat) are dropped and the modules loaded again, quietly: after an
// upgrade that is expected, not a warning.
func TestMetadataCacheOfAnotherRelease(t *testing.T) {
	t.Parallel()
	dir, metaDir := warmSetup(t, map[string]string{"swap.wasm": "swap_v1.wasm"})
	p := descPath(metaDir, "swap_v1.wasm", t)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(fmt.Sprintf(`"format":%d`, sandbox.DescriptionFormat)), []byte(`"format":1`), 1)
	writeFile(t, p, b)
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	logs := &logbuf.Buffer{}
	r, err := Open(ctx, Options{Runtime: rt, Dir: dir, MetadataDir: metaDir,
		Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(ctx) })
	if s := rt.Stats(); s.Loads != 1 {
		t.Fatalf("stats %+v, want the module loaded again", s)
	}
	if !strings.Contains(logs.String(), "another release's") || strings.Contains(logs.String(), "[WARN]") {
		t.Errorf("want one debug line, no warning:\n%s", logs.String())
	}
}

func TestMetadataCacheChangedFileIsLoaded(t *testing.T) {
	t.Parallel()
	dir, metaDir := warmSetup(t, map[string]string{"swap.wasm": "swap_v1.wasm", "other.wasm": "other.wasm"})
	writeFile(t, filepath.Join(dir, "swap.wasm"), fixture(t, "swap_v2.wasm"))
	r, rt := process(t, dir, metaDir)
	if s := rt.Stats(); s.Loads != 1 || s.Described != 1 {
		t.Fatalf("stats %+v, want the changed file loaded and the other described", s)
	}
	if got := lookupRun(t, r, "swap")["version"]; got != 2.0 {
		t.Fatalf("swap returned version %v, want 2", got)
	}
}

func TestMetadataCacheLazyLoadFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spoil func(t *testing.T, dir, metaDir string)
		want  string
	}{
		{"description lies", func(t *testing.T, dir, metaDir string) {
			p := descPath(metaDir, "swap_v1.wasm", t)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var d sandbox.Description
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			d.Hooks = []string{"pre_hook"}
			b, _ = json.Marshal(d)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "does not match its description"},
		{"file changed behind its identity", func(t *testing.T, dir, metaDir string) {
			// The hash index says swap.wasm still has version 1's hash; it now holds
			// version 2 (same size), with the index entry refreshed to its new identity.
			p := filepath.Join(dir, "swap.wasm")
			writeFile(t, p, fixture(t, "swap_v2.wasm"))
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			mc, err := openMetaCache(metaDir, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(p)
			mc.setHash(abs, st, sandbox.Hash(fixture(t, "swap_v1.wasm")))
			mc.flush()
		}, "the module changed since it was described"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir, metaDir := warmSetup(t, map[string]string{"swap.wasm": "swap_v1.wasm", "other.wasm": "other.wasm"})
			tt.spoil(t, dir, metaDir)
			r, _ := process(t, dir, metaDir)
			_, err := r.Lookup("swap")
			if err == nil {
				t.Fatal("lookup of a plugin whose lazy load fails must fail")
			}
			for _, want := range []string{`plugin "swap"`, "swap.wasm", tt.want} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("lookup error %q lacks %q", err, want)
				}
			}
			if !strings.Contains(r.Problems()["swap.wasm"], tt.want) {
				t.Fatalf("problems = %v, want swap.wasm reported", r.Problems())
			}
			if _, err := r.Lookup("swap"); apferr.CodeOf(err) != apferr.ExecutorNotFound {
				t.Fatalf("second lookup: %v, want ExecutorNotFound", err)
			}
			if _, err := os.Stat(descPath(metaDir, "swap_v1.wasm", t)); !os.IsNotExist(err) {
				t.Fatalf("the description must be dropped, stat err = %v", err)
			}
			lookupRun(t, r, "other") // the other plugin is unaffected
			// The next scan loads the file in full.
			if err := r.Rescan(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := r.Problems()["swap.wasm"]; ok {
				t.Fatalf("problem not cleared after a full load: %v", r.Problems())
			}
			if got := lookupRun(t, r, "swap")["version"]; got == nil {
				t.Fatal("swap must run after the rescan")
			}
		})
	}
}

func TestMetadataCacheHotLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, metaDir := warmSetup(t, map[string]string{"swap.wasm": "swap_v1.wasm", "other.wasm": "other.wasm"})
	r, rt := process(t, dir, metaDir)
	if s := rt.Stats(); s.Described != 2 {
		t.Fatalf("stats %+v, want a warm start", s)
	}
	pinned, err := r.Lookup("swap")
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Release()
	// Swap: new lookups get version 2, the pinned handle keeps version 1.
	writeFile(t, filepath.Join(dir, "swap.wasm"), fixture(t, "swap_v2.wasm"))
	if err := r.Rescan(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lookupRun(t, r, "swap")["version"]; got != 2.0 {
		t.Fatalf("new lookups must get version 2, got %v", got)
	}
	if got := run(t, pinned)["version"]; got != 1.0 {
		t.Fatalf("pinned handle ran version %v, want 1", got)
	}
	// Swap back: version 1 is described from the cache and compiled on lookup.
	writeFile(t, filepath.Join(dir, "swap.wasm"), fixture(t, "swap_v1.wasm"))
	if err := r.Rescan(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lookupRun(t, r, "swap")["version"]; got != 1.0 {
		t.Fatalf("after swapping back lookups must get version 1, got %v", got)
	}
	// Remove: the lazily registered plugin goes; pinned handles still run.
	otherPinned, err := r.Lookup("other")
	if err != nil {
		t.Fatal(err)
	}
	defer otherPinned.Release()
	if err := r.Remove(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup("other"); apferr.CodeOf(err) != apferr.ExecutorNotFound {
		t.Fatalf("lookup after Remove: %v", err)
	}
	run(t, otherPinned)
}

func TestMetadataCacheAddIsEagerAndCached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir, metaDir := t.TempDir(), t.TempDir()
	r, _ := process(t, dir, metaDir)
	if _, err := r.Add(ctx, "bad.wasm", []byte("junk")); apferr.CodeOf(err) != apferr.InvalidParams {
		t.Fatalf("Add of junk: %v, want InvalidParams", err)
	}
	if _, err := r.Add(ctx, "upload.wasm", fixture(t, "swap_v2.wasm")); err != nil {
		t.Fatal(err)
	}
	r2, rt2 := process(t, dir, metaDir)
	if s := rt2.Stats(); s.Loads != 0 || s.Described != 1 {
		t.Fatalf("start after Add: stats %+v, want the upload described from the cache", s)
	}
	if got := lookupRun(t, r2, "swap")["version"]; got != 2.0 {
		t.Fatalf("swap returned %v, want 2", got)
	}
}

func TestMetadataKindRoles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture        string
		executor, hook bool
	}{
		{"kind_hook.wasm", false, true},
		{"kind_exec.wasm", true, false},
		{"kind_both.wasm", true, true},
	}
	for _, tt := range tests {
		for _, warm := range []bool{false, true} {
			name := tt.fixture
			if warm {
				name += "/warm"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				dir, metaDir := t.TempDir(), t.TempDir()
				b, err := os.ReadFile(filepath.Join("..", "sandbox", "testdata", tt.fixture))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, tt.fixture), b)
				r, _ := process(t, dir, metaDir)
				if warm {
					var rt *sandbox.Runtime
					r, rt = process(t, dir, metaDir)
					if s := rt.Stats(); s.Described != 1 {
						t.Fatalf("stats %+v, want a warm start", s)
					}
				}
				id := strings.TrimSuffix(tt.fixture, ".wasm")
				h, err := r.Lookup(id)
				if tt.executor != (err == nil) {
					t.Fatalf("Lookup(%s) error = %v, want executor %v", id, err, tt.executor)
				}
				if err == nil {
					h.Release()
				} else if apferr.CodeOf(err) != apferr.ExecutorNotFound || !strings.Contains(err.Error(), "metadata kind") {
					t.Fatalf("Lookup(%s) error = %v, want ExecutorNotFound naming the metadata kind", id, err)
				}
				hh, err := r.Hook(id)
				if tt.hook != (err == nil) {
					t.Fatalf("Hook(%s) error = %v, want hook %v", id, err, tt.hook)
				}
				if err == nil {
					hh.Release()
				}
			})
		}
	}
}

// TestMetadataCacheSharedByPluginsDirs: one cache serves several plugins dirs (it is per
// user): a second dir with the same module loads nothing, and the index forgets the
// files of a dir that was deleted.
func TestMetadataCacheSharedByPluginsDirs(t *testing.T) {
	t.Parallel()
	first, metaDir := warmSetup(t, map[string]string{"other.wasm": "other.wasm"})
	second := t.TempDir()
	writeFile(t, filepath.Join(second, "other.wasm"), fixture(t, "other.wasm"))
	if _, rt := process(t, second, metaDir); rt.Stats().Loads != 0 {
		t.Fatalf("a second plugins dir loaded %d modules, want 0 (described from the shared cache)", rt.Stats().Loads)
	}
	if err := os.RemoveAll(first); err != nil {
		t.Fatal(err)
	}
	c, err := openMetaCache(metaDir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	for path := range c.files {
		if filepath.Dir(path) == first {
			t.Errorf("the index still holds %s of a deleted plugins dir", path)
		}
	}
	if !c.dirty || len(c.files) != 1 {
		t.Errorf("index after pruning: %d files, dirty %v; want the second dir's file and a rewrite", len(c.files), c.dirty)
	}
}

// TestLookupDuringShutdownKeepsThePlugin looks a plugin up, registered from the
// metadata cache and not compiled yet, after its runtime closed (a process shutting
// down): the lookup fails as closed, and the plugin stays registered, with no problem
// recorded and its description still cached for the next process.
func TestLookupDuringShutdownKeepsThePlugin(t *testing.T) {
	t.Parallel()
	dir, metaDir := warmSetup(t, map[string]string{"swap.wasm": "swap_v1.wasm"})
	r, rt := process(t, dir, metaDir)
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := r.Lookup("swap")
	if sandbox.KindOf(err) != sandbox.KindClosed {
		t.Fatalf("lookup after the runtime closed = %v, want KindClosed", err)
	}
	if len(r.Problems()) != 0 {
		t.Fatalf("problems = %v, want none", r.Problems())
	}
	if _, err := os.Stat(descPath(metaDir, "swap_v1.wasm", t)); err != nil {
		t.Fatalf("the description was dropped: %v", err)
	}
	if _, err := r.Lookup("swap"); sandbox.KindOf(err) != sandbox.KindClosed {
		t.Fatalf("second lookup = %v, want KindClosed again (the plugin still registered)", err)
	}
}

// TestCancelledScanReportsNothing rescans with a done context (a registry closing): the
// scan fails with the context's error, loads no new file, and records no problem for it.
func TestCancelledScanReportsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "swap.wasm"), fixture(t, "swap_v1.wasm"))
	r, _ := process(t, dir, t.TempDir())
	writeFile(t, filepath.Join(dir, "other.wasm"), fixture(t, "other.wasm"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Rescan(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Rescan = %v, want context.Canceled", err)
	}
	if len(r.Problems()) != 0 {
		t.Fatalf("problems = %v, want none", r.Problems())
	}
	if _, err := r.Lookup("other"); apferr.CodeOf(err) != apferr.ExecutorNotFound {
		t.Fatalf("lookup of the file the cancelled scan met = %v, want not found", err)
	}
	if err := r.Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	lookupRun(t, r, "other") // the next scan loads it
}
