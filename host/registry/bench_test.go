package registry

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// benchPlugins returns the plugins a benchmark opens: every .wasm of build/plugins (after
// `make plugins kits`) when present, else n copies of the committed fixtures (renamed so
// that each registers under its own file). It returns the directory.
func benchPlugins(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	built, _ := filepath.Glob(filepath.Join("..", "..", "build", "plugins", "*.wasm"))
	if len(built) > 0 {
		for _, p := range built {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		return dir
	}
	for i := 0; i < n; i++ {
		for _, fx := range []string{"swap_v1.wasm", "other.wasm"} {
			data, err := os.ReadFile(filepath.Join("testdata", fx))
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d-%s", i, fx)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	return dir
}

// BenchmarkOpen opens a registry over a directory of plugins in a fresh runtime (as a
// process start does) whose compilation cache is warm, with the metadata cache cold
// (every module compiled and instantiated) or warm (registered from descriptions).
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	dir := benchPlugins(b, 8)
	cacheDir := b.TempDir()
	open := func(b *testing.B, opts Options) {
		rt, err := sandbox.New(ctx, sandbox.Config{CacheDir: cacheDir})
		if err != nil {
			b.Fatal(err)
		}
		opts.Runtime, opts.Dir = rt, dir
		r, err := Open(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.List()) == 0 {
			b.Fatal("no plugin registered")
		}
		_ = r.Close(ctx)
		_ = rt.Close(ctx)
	}
	open(b, Options{}) // warms the compilation and metadata caches
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"metadata-cache=cold", Options{NoMetadataCache: true}},
		{"metadata-cache=warm", Options{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				open(b, bc.opts)
			}
		})
	}
}

// BenchmarkProcessStart builds cmd/apflow and times `apflow run` of a one-task tree on a
// small plugin (template_c from build/plugins, else the echo fixture) with a warm
// compilation and metadata cache: with only that plugin in the plugins directory, and
// with every plugin of build/plugins besides. Skipped with -short.
func BenchmarkProcessStart(b *testing.B) {
	if testing.Short() {
		b.Skip("builds the apflow binary")
	}
	bin := apflowbin.Build(b)
	small, method, inputs := filepath.Join("..", "..", "build", "plugins", "template_c.wasm"), "template_c", `{"name":"x"}`
	if _, err := os.Stat(small); err != nil {
		small, method, inputs = filepath.Join("..", "sandbox", "testdata", "echo.wasm"), "echo", `{}`
	}
	tree := filepath.Join(b.TempDir(), "tree.json")
	doc := fmt.Sprintf(`[{"name":"one","schemas":{"method":%q},"inputs":%s}]`, method, inputs)
	if err := os.WriteFile(tree, []byte(doc), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		all  bool
	}{{"plugins=one", false}, {"plugins=all", true}} {
		b.Run(bc.name, func(b *testing.B) {
			plugins := b.TempDir()
			if bc.all {
				plugins = benchPlugins(b, 8)
			}
			data, err := os.ReadFile(small)
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(plugins, filepath.Base(small)), data, 0o644); err != nil {
				b.Fatal(err)
			}
			dataDir := b.TempDir()
			runOnce := func() {
				cmd := exec.Command(bin, "run", "-q", "--data-dir", dataDir, "--plugins", plugins, tree)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					b.Fatalf("apflow run: %v\n%s", err, out.String())
				}
			}
			runOnce() // warms the caches
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runOnce()
			}
		})
	}
}
