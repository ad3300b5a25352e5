package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFreshDataDirUsesTheUserCache: the compilation and metadata cache is per user
// (--cache-dir), not per data dir: a second, fresh data dir loads no module in full (no
// compile, no instance), and --cache-dir "" keeps the cache in the data dir as before.
func TestFreshDataDirUsesTheUserCache(t *testing.T) {
	t.Parallel()
	_, plugins := setup(t)
	cache := t.TempDir()
	const fullLoad = "apflow.sandbox: plugin loaded"
	tests := []struct {
		name      string
		cacheDir  string
		wantLoads bool
		wantDir   string // a directory the run must have created
	}{
		{"first data dir fills the user cache", cache, true, filepath.Join(cache, "wasm", "meta")},
		{"a fresh data dir loads nothing in full", cache, false, ""},
		{"no cache dir: the cache is in the data dir", "", true, "wasm-cache"},
	}
	for _, tt := range tests {
		dataDir := t.TempDir()
		code, stdout, stderr := apflow(t, "", "plugins", "list", "--log-level", "debug",
			"--data-dir", dataDir, "--plugins", plugins, "--cache-dir", tt.cacheDir)
		if code != exitOK {
			t.Fatalf("%s: exit %d\n%s\n%s", tt.name, code, stdout, stderr)
		}
		if got := strings.Contains(stderr, fullLoad); got != tt.wantLoads {
			t.Errorf("%s: full loads = %v, want %v\n%s", tt.name, got, tt.wantLoads, stderr)
		}
		if !strings.Contains(stdout, "echo") {
			t.Errorf("%s: echo is not listed:\n%s", tt.name, stdout)
		}
		if tt.wantDir != "" {
			dir := tt.wantDir
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(dataDir, dir)
			}
			if dirNames(t, dir) == "" {
				t.Errorf("%s: %s is empty", tt.name, dir)
			}
		}
	}
}

// TestUnwritableDefaultCacheFallsBack: when the default cache dir (the user cache dir)
// cannot be created — a system user whose home is /nonexistent — the cache is the data
// dir's instead of failing the command; an explicit --cache-dir is used as given.
func TestUnwritableDefaultCacheFallsBack(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", filepath.Join(blocker, "cache")) // under a file: never creatable
	dataDir := t.TempDir()
	g := &globals{dataDir: dataDir, cacheDir: defaultCacheDir()}
	if got, want := g.wasmCacheDir(), filepath.Join(dataDir, "wasm-cache"); got != want {
		t.Errorf("unwritable default: cache %s, want %s", got, want)
	}
	explicit := t.TempDir()
	g.cacheDir = explicit
	if got, want := g.wasmCacheDir(), filepath.Join(explicit, "wasm"); got != want {
		t.Errorf("explicit: cache %s, want %s", got, want)
	}
}
