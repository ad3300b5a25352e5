package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loopDir holds the word_count executor in each language and the files of its loop.
const loopDir = "testdata/authorloop"

// loopLang is one language of TestAuthorLoop: how a newcomer builds word_count from an
// empty folder with the recipe of docs/writing-plugins.md (names kept), and the frame
// naming the function explode in the trap's report.
type loopLang struct {
	name  string
	tools []string // must be installed (skip, or fail under APFLOW_REQUIRE_KITS)
	// build builds the module in dir (holding the language's sources) to out.
	build func(t *testing.T, repo, dir, out string)
	frame string
}

var loopLangs = []loopLang{
	{name: "go", tools: []string{"go"}, build: buildLoopGo, frame: "main.explode("},
	{name: "rust", tools: []string{kitCargo}, build: buildLoopRust, frame: "\tword_count::explode(i32)\n"},
	{name: "c", tools: []string{"clang"}, build: buildLoopC, frame: "\texplode()\n"},
	{name: "assemblyscript", tools: []string{"node"}, build: buildLoopAS, frame: "\tassembly/index/explode(i32)\n"},
}

// kitCargo is Debian's cargo, whose rustc has the wasm32-wasi standard library.
const kitCargo = "/usr/bin/cargo"

// TestAuthorLoop walks the plugin author's loop in Go, Rust, C and AssemblyScript, each
// from an empty folder: write (copy the sources), build, apflow call (a result, and a
// fetch answered by an http fixture), apflow test of a cases file with an http fixture,
// a trap whose report names the function that trapped, and the same tree file run twice
// on one data dir. The toolchains are those `make setup` installs; a missing one skips
// its language, or fails it under APFLOW_REQUIRE_KITS (CI).
func TestAuthorLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin in each of four languages")
	}
	warmRuntime(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range loopLangs {
		t.Run(lang.name, func(t *testing.T) {
			t.Parallel()
			requireTools(t, lang.tools)
			work := t.TempDir()
			src := filepath.Join(work, "word_count")
			if err := os.CopyFS(src, os.DirFS(filepath.Join(loopDir, lang.name))); err != nil {
				t.Fatal(err)
			}
			plugins := filepath.Join(work, "plugins")
			if err := os.Mkdir(plugins, 0o755); err != nil {
				t.Fatal(err)
			}
			module := filepath.Join(plugins, "word_count.wasm")
			lang.build(t, repo, src, module)
			walkLoop(t, work, module, lang.frame)
		})
	}
}

// walkLoop runs the loop's commands on a built module, in-process, as the CLI's user.
func walkLoop(t *testing.T, work, module, frame string) {
	steps := []struct {
		name   string
		args   []string
		code   int
		stdout string // part of stdout
		stderr string // part of stderr
	}{
		{"call", []string{"call", module, "--input", `{"text": "one two  three"}`},
			0, `"words": 3`, "log   info  counted words words=3"},
		{"call with an http fixture", []string{"call", module, "--input", `{"url": "https://pages.example/doc"}`,
			"--grant", "http=pages.example", "--http-fixture", filepath.Join(loopDir, "page.http.json")},
			0, `"words": 4`, "http_request bytes=22 status=200"},
		{"call without the grant", []string{"call", module, "--input", `{"url": "https://pages.example/doc"}`},
			1, "", "host call refused error=capability http not granted to plugin word_count"},
		{"call refused by the input schema", []string{"call", module, "--input", `{"text": 7}`},
			2, "", "text"},
		{"test", []string{"test", module, filepath.Join(loopDir, "cases.json")},
			0, "4 cases, 0 failed", ""},
		{"a trap names the function", []string{"call", module, "--input", `{"text": "abc", "explode": true}`},
			1, "", frame},
	}
	for _, s := range steps {
		code, stdout, stderr := apflow(t, "", s.args...)
		if code != s.code || !strings.Contains(stdout, s.stdout) || !strings.Contains(stderr, s.stderr) {
			t.Fatalf("%s: apflow %s: exit %d (want %d), want %q in stdout, %q in stderr\nstdout:\n%s\nstderr:\n%s",
				s.name, strings.Join(s.args, " "), code, s.code, s.stdout, s.stderr, stdout, stderr)
		}
	}
	dataDir, plugins := filepath.Join(work, "data"), filepath.Dir(module)
	tree := filepath.Join(loopDir, "tree.json")
	for run := 1; run <= 2; run++ {
		code, stdout, stderr := apflow(t, "", "run", "--data-dir", dataDir, "--plugins", plugins, tree)
		if code != 0 || !strings.Contains(stdout+stderr, "2 tasks: 2 completed") {
			t.Fatalf("run %d of %s: exit %d\nstdout:\n%s\nstderr:\n%s", run, tree, code, stdout, stderr)
		}
	}
	code, stdout, stderr := apflow(t, "", "tasks", "list", "--all", "--data-dir", dataDir, "--plugins", plugins)
	if code != 0 || strings.Count(stdout, " completed ") != 4 {
		t.Fatalf("the data dir after two runs: exit %d, want 4 completed tasks\n%s%s", code, stdout, stderr)
	}
}

// requireTools skips the test when a tool is missing, or fails it under
// APFLOW_REQUIRE_KITS.
func requireTools(t *testing.T, tools []string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("APFLOW_REQUIRE_KITS") != "" {
				t.Fatalf("%s is required (APFLOW_REQUIRE_KITS): %v; make setup installs it", tool, err)
			}
			t.Skipf("%s is not installed (make setup installs it)", tool)
		}
	}
}

// runIn runs a build command in dir with extra environment, failing the test with its
// output.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
}

// buildLoopGo: go mod init, the SDK from this checkout (go.sum copied from it, so that
// no network is needed), go mod tidy, then the wasip1 c-shared build.
func buildLoopGo(t *testing.T, repo, dir, out string) {
	runIn(t, dir, nil, "go", "mod", "init", "example.com/word_count")
	runIn(t, dir, nil, "go", "mod", "edit", "-require=github.com/apflow-wasm/apflow@v0.0.0",
		"-replace=github.com/apflow-wasm/apflow="+repo)
	copyFile(t, filepath.Join(repo, "go.sum"), filepath.Join(dir, "go.sum"))
	runIn(t, dir, []string{"GOFLAGS=-mod=mod", "GOPROXY=off"}, "go", "mod", "tidy")
	runIn(t, dir, []string{"GOOS=wasip1", "GOARCH=wasm"}, "go", "build", "-buildmode=c-shared", "-o", out, ".")
}

// buildLoopRust: a Cargo.toml with the kit's dependency and the release profile of the
// template, names kept (strip = "debuginfo"); cargo --offline with Debian's rustc.
func buildLoopRust(t *testing.T, repo, dir, out string) {
	manifest := fmt.Sprintf(`[package]
name = "word_count"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
apflow-plugin = { path = %q }

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"
`, filepath.Join(repo, "sdk", "rust"))
	if err := os.WriteFile(filepath.Join(dir, "Cargo.toml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	runIn(t, dir, []string{"RUSTC=/usr/bin/rustc"}, kitCargo, "build", "-q", "--offline", "--release", "--target", "wasm32-wasi")
	copyFile(t, filepath.Join(dir, "target", "wasm32-wasi", "release", "word_count.wasm"), out)
}

// buildLoopC: one clang command with the kit's two files, not stripped.
func buildLoopC(t *testing.T, repo, dir, out string) {
	kit := filepath.Join(repo, "sdk", "c")
	runIn(t, dir, nil, "clang", "--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Wextra", "-Werror",
		"-I", kit, "-o", out, "word_count.c", filepath.Join(kit, "apflow.c"))
}

// buildLoopAS: the template's installed packages (assemblyscript and the kit, which
// `make kits` installs with npm ci) stand for the docs' npm install; asc --debug keeps
// the names.
func buildLoopAS(t *testing.T, repo, dir, out string) {
	modules := filepath.Join(repo, "examples", "plugins", "assemblyscript", "template", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, ".bin", "asc")); err != nil {
		if os.Getenv("APFLOW_REQUIRE_KITS") != "" || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("asc: %v (make kits installs it)", err)
		}
		t.Skip("AssemblyScript is not installed in the template (make kits installs it)")
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	runIn(t, dir, nil, filepath.Join(dir, "node_modules", ".bin", "asc"), "assembly/index.ts", "--outFile", out,
		"--optimize", "--debug", "--use", "abort=~lib/apflow-plugin-kit/assembly/host/abortHandler")
}
