package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/sandbox"
)

// pluginrunTestdata holds the test plugins of host/pluginrun.
const pluginrunTestdata = "../../host/pluginrun/testdata/"

// warmOnce creates the process's first sandbox runtime alone: wazero records its version
// in a package variable when the first runtime of a process is created, unsynchronised,
// so that two first runtimes created at once race (the race detector reports it).
var warmOnce sync.Once

// warmRuntime must be called before t.Parallel: top-level tests run their sequential
// parts before any parallel one resumes.
func warmRuntime(t *testing.T) {
	t.Helper()
	warmOnce.Do(func() {
		rt, err := sandbox.New(context.Background(), sandbox.Config{})
		if err != nil {
			t.Fatal(err)
		}
		_ = rt.Close(context.Background())
	})
}

func TestCallExitStatusAndOutput(t *testing.T) {
	warmRuntime(t)
	t.Parallel()
	fixture := filepath.Join(t.TempDir(), "f.http.json")
	if err := os.WriteFile(fixture, []byte(`[{"request":{"url":"https://a.example/"},"response":{"status":201}}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	inputFile := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(inputFile, []byte(`{"name":"from a file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		stdin     string
		args      []string
		code      int
		stdout    string // part of stdout
		stderr    string // part of stderr
		noDataDir bool
	}{
		{name: "result", args: []string{"call", pluginrunTestdata + "strict.wasm", "--input", `{"name":"Ada"}`},
			code: 0, stdout: `"name": "Ada"`, stderr: "log   info  echo called"},
		{name: "input from a file", args: []string{"call", pluginrunTestdata + "strict.wasm", "--input", "@" + inputFile},
			code: 0, stdout: `"from a file"`},
		{name: "input from stdin", stdin: `{"name":"in"}`, args: []string{"call", pluginrunTestdata + "strict.wasm", "--input", "-"},
			code: 0, stdout: `"in"`},
		{name: "schema refuses", args: []string{"call", pluginrunTestdata + "strict.wasm"},
			code: 2, stderr: "missing properties: 'name'"},
		{name: "not json", args: []string{"call", pluginrunTestdata + "strict.wasm", "--input", "{"},
			code: 2, stderr: "not valid JSON"},
		{name: "trap", args: []string{"call", pluginrunTestdata + "unreachable.wasm"}, code: 1, stderr: "error plugin unreachable"},
		{name: "json", args: []string{"call", pluginrunTestdata + "strict.wasm", "--input", `{"name":"J"}`, "--json"},
			code: 0, stdout: `"usage": {`},
		{name: "fixture", args: []string{"call", pluginrunTestdata + "http_proxy.wasm", "--input", `{"url":"https://a.example/"}`,
			"--grant", "http=a.example", "--http-fixture", fixture}, code: 0, stdout: `"status": 201`},
		{name: "unmatched request", args: []string{"call", pluginrunTestdata + "http_proxy.wasm", "--input", `{"url":"https://a.example/x"}`,
			"--grant", "http=a.example", "--http-fixture", fixture}, code: 1, stderr: "http  no fixture pair answered GET https://a.example/x"},
		{name: "config", args: []string{"call", pluginrunTestdata + "hook.wasm", "--hook", "post", "--config", "{}=[1]"},
			code: 0, stdout: "1"},
		{name: "hook of an executor", args: []string{"call", pluginrunTestdata + "strict.wasm", "--hook", "pre"},
			code: 2, stderr: "strict is not a hook"},
		// A hook runs under the hooks' limit of production (2 s), not a task's (30 s).
		{name: "a hook's limit", args: []string{"call", "../../host/hooks/testdata/loop.wasm", "--hook", "pre", "--input", `{"task":{"id":"t1"}}`},
			code: 1, stderr: "timed out after 2s"},
		{name: "a hook's limit given", args: []string{"call", "../../host/hooks/testdata/loop.wasm", "--hook", "pre", "--input", `{"task":{"id":"t1"}}`, "--limits", "timeout_ms=300"},
			code: 1, stderr: "timed out after 300ms"},
		{name: "bad grant", args: []string{"call", pluginrunTestdata + "strict.wasm", "--grant", "disk"}, code: 2, stderr: "unknown capability"},
		{name: "bad limits", args: []string{"call", pluginrunTestdata + "strict.wasm", "--limits", "cpu=1"}, code: 2, stderr: "unknown limit"},
		{name: "record without grant", args: []string{"call", pluginrunTestdata + "strict.wasm", "--record", fixture}, code: 2, stderr: "--grant http=HOST"},
		{name: "missing module", args: []string{"call", "nope.wasm"}, code: 2, stderr: "nope.wasm"},
		// Limits that contradict the ceilings are bad input, as in run.
		{name: "default above its ceiling", args: []string{"call", "--task-timeout", "2h", pluginrunTestdata + "strict.wasm", "--input", `{"name":"Ada"}`},
			code: 2, stderr: "--task-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dataDir := filepath.Join(t.TempDir(), "home")
			args := append([]string{"--data-dir", dataDir}, tt.args...)
			code, stdout, stderr := apflow(t, tt.stdin, args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout with %q, stderr with %q", code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
			if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
				t.Fatalf("call created the data dir (%v): nothing may be stored", err)
			}
		})
	}
}

func TestTestCommand(t *testing.T) {
	warmRuntime(t)
	t.Parallel()
	dir := t.TempDir()
	cases := filepath.Join(dir, "cases.json")
	write := func(doc string) {
		if err := os.WriteFile(cases, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`[{"name":"ok","input":{"name":"A"},"expect":{"result":{"name":"A"},"logs":["echo called"]}},
	        {"name":"stale","input":{"name":"B"},"expect":{"result":{"name":"C"}}}]`)
	code, stdout, _ := apflow(t, "", "test", pluginrunTestdata+"strict.wasm", cases)
	for _, want := range []string{"PASS " + cases + ": ok", "FAIL " + cases + ": stale", `$.name: want "C", got "B"`, "2 cases, 1 failed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	code, stdout, _ = apflow(t, "", "test", "--update", pluginrunTestdata+"strict.wasm", cases)
	if code != 0 || !strings.Contains(stdout, "updated 1 case in") {
		t.Fatalf("--update: exit %d\n%s", code, stdout)
	}
	data, _ := os.ReadFile(cases)
	var doc []map[string]any
	if err := json.Unmarshal(data, &doc); err != nil || doc[1]["expect"].(map[string]any)["result"].(map[string]any)["name"] != "B" {
		t.Fatalf("updated file:\n%s", data)
	}
	if code, stdout, _ = apflow(t, "", "test", pluginrunTestdata+"strict.wasm", cases); code != 0 {
		t.Fatalf("after --update: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := apflow(t, "", "test", "--config", "op.json", pluginrunTestdata+"strict.wasm", cases); code != 2 || !strings.Contains(stderr, "does not read the operator config") {
		t.Fatalf("--config: exit %d, %s", code, stderr)
	}
	write(`[{"name":"x","expect":{"bogus":1}}]`)
	if code, _, stderr := apflow(t, "", "test", pluginrunTestdata+"strict.wasm", cases); code != 2 || !strings.Contains(stderr, `unknown field "bogus"`) {
		t.Fatalf("invalid cases file: exit %d, %s", code, stderr)
	}
}
