package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/store/badgerstore"
)

// TestPluginsListKindsAndProblems: a hook-only module is of kind "hook", and a file that
// fails to load is reported exactly once, with the reason and the fix.
func TestPluginsListKindsAndProblems(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	copyFile(t, "../../host/hooks/testdata/set_a.wasm", filepath.Join(plugins, "set_a.wasm"))
	bad := filepath.Join(plugins, "bad.wasm")
	if err := os.WriteFile(bad, []byte("not a module"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--data-dir", dataDir, "--plugins", plugins}
	const reason = "invalid magic number"
	const fix = "to fix, replace or delete the file"

	t.Run("table", func(t *testing.T) {
		code, stdout, stderr := apflow(t, "", append([]string{"plugins", "list"}, base...)...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		kinds := map[string]string{}
		for _, line := range strings.Split(stdout, "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				kinds[f[0]] = f[1]
			}
		}
		for id, want := range map[string]string{"set_a": "hook", "echo": "wasm", "aggregate_results_executor": "builtin"} {
			if kinds[id] != want {
				t.Errorf("kind of %s = %q, want %q\n%s", id, kinds[id], want, stdout)
			}
		}
		all := stdout + stderr
		if n := strings.Count(all, "bad.wasm"); n != 1 {
			t.Fatalf("bad.wasm is mentioned %d times, want once\nstdout:\n%s\nstderr:\n%s", n, stdout, stderr)
		}
		line := lineWith(all, "bad.wasm")
		if !strings.Contains(line, bad) || !strings.Contains(line, reason) || !strings.Contains(line, fix) {
			t.Fatalf("the problem line lacks the path %s, the reason %q or the fix %q: %s", bad, reason, fix, line)
		}
	})
	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := apflow(t, "", append([]string{"plugins", "list", "--json"}, base...)...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		var out struct {
			Plugins  []pluginView      `json:"plugins"`
			Problems map[string]string `json:"problems"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		if !strings.Contains(out.Problems["bad.wasm"], reason) {
			t.Fatalf("problems = %v", out.Problems)
		}
		if strings.Contains(stderr, "bad.wasm") {
			t.Fatalf("the problem is reported again on stderr:\n%s", stderr)
		}
	})
	t.Run("run warns once", func(t *testing.T) {
		tree := `[{"name": "r", "schemas": {"method": "echo"}, "inputs": {"x": 1}}]`
		code, stdout, stderr := apflow(t, "", append([]string{"run", "-q", writeTree(t, tree)}, base...)...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		if n := strings.Count(stdout+stderr, "bad.wasm"); n != 1 {
			t.Fatalf("bad.wasm is mentioned %d times, want once\nstdout:\n%s\nstderr:\n%s", n, stdout, stderr)
		}
		if line := lineWith(stderr, "bad.wasm"); !strings.HasPrefix(line, "warning: ") || !strings.Contains(line, bad) || !strings.Contains(line, reason) || !strings.Contains(line, fix) {
			t.Fatalf("warning line = %q", line)
		}
	})
}

// lineWith returns the first line of s containing sub.
func lineWith(s, sub string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}

// TestPluginsInspectFile: plugins inspect checks a module file before it is installed —
// the verdict, each problem with its fix and exit 1 for a module that does not conform;
// metadata, schemas and the compiled size for one that does — and leaves the data dir
// and the plugins dir as they were.
func TestPluginsInspectFile(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	base := []string{"--data-dir", dataDir, "--plugins", plugins}
	before := dirNames(t, plugins)
	tests := []struct {
		file     string
		json     bool
		wantCode int
		want     []string
	}{
		{"../../host/sandbox/testdata/echo.wasm", false, exitOK,
			[]string{"verdict:   conforms to the plugin ABI", "id:        echo 1.0.0 (wasm)", "bytes compiled", "input schema:"}},
		{"../../host/sandbox/testdata/echo.wasm", true, exitOK,
			[]string{`"compiled_bytes": `, `"id": "echo"`, `"input_schema"`}},
		{"../../host/sandbox/testdata/asabort.wasm", false, exitFailed,
			[]string{"does not conform to the plugin ABI (3 problem(s))", "imports env.abort", "--use abort=", "3 problem(s)"}},
		{"testdata/builtinid.wasm", false, exitFailed,
			[]string{"does not conform", `plugin id "aggregate_results_executor" is reserved for a built-in executor`}},
		{"../../host/sandbox/testdata/command.wasm", true, exitFailed,
			[]string{`"problem": "does not export alloc`, "-buildmode=c-shared"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			args := append([]string{"plugins", "inspect", tt.file}, base...)
			if tt.json {
				args = append(args, "--json")
			}
			code, stdout, stderr := apflow(t, "", args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.wantCode, stdout, stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(stdout+stderr, want) {
					t.Errorf("output lacks %q:\n%s\n%s", want, stdout, stderr)
				}
			}
		})
	}
	if after := dirNames(t, plugins); after != before {
		t.Errorf("the plugins dir changed: %s, was %s", after, before)
	}
}

func dirNames(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}

// TestPluginCommandsLeaveTheTaskStoreAlone: on the embedded store, the plugins commands
// work while another process (a server) holds the data dir's task store, and a fresh
// data dir gets no task store from them.
func TestPluginCommandsLeaveTheTaskStoreAlone(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	held, err := badgerstore.Open(badgerstore.Options{Dir: filepath.Join(dataDir, "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Close() })
	base := []string{"--data-dir", dataDir, "--plugins", plugins}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"list", []string{"plugins", "list"}, "echo"},
		{"inspect", []string{"plugins", "inspect", "echo"}, `"id": "echo"`},
		{"stats", []string{"plugins", "stats"}, "echo"},
		{"add", []string{"plugins", "add", "../../host/hooks/testdata/set_a.wasm"}, "added set_a"},
		{"remove", []string{"plugins", "remove", "set_a"}, "removed set_a"},
	}
	for _, tc := range tests { // in order: remove takes out what add put in
		code, stdout, stderr := apflow(t, "", append(tc.args, base...)...)
		if code != exitOK || !strings.Contains(stdout, tc.want) {
			t.Fatalf("%s while the store is held: exit %d, want %q\nstdout:\n%s\nstderr:\n%s", tc.name, code, tc.want, stdout, stderr)
		}
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	if code, stdout, stderr := apflow(t, "", "plugins", "list", "--data-dir", fresh, "--plugins", plugins); code != exitOK {
		t.Fatalf("plugins list on a fresh data dir: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(fresh, "db")); !os.IsNotExist(err) {
		t.Fatalf("plugins list created a task store in a fresh data dir (stat: %v)", err)
	}
}
