package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestAgain(t *testing.T) {
	t.Setenv("APFLOW_SERVER", "http://127.0.0.1:9000")
	rel, err := filepath.Abs("d")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		g    globals
		want string
	}{
		{"defaults", globals{dataDir: defaultDataDir()}, "apflow tasks get r1"},
		{"data dir", globals{dataDir: "/tmp/run 1"}, "apflow tasks get r1 --data-dir '/tmp/run 1'"},
		{"plain data dir", globals{dataDir: "/tmp/d"}, "apflow tasks get r1 --data-dir /tmp/d"},
		{"relative data dir", globals{dataDir: "d"}, "apflow tasks get r1 --data-dir " + shellQuote(rel)},
		{"server from the environment", globals{dataDir: "/x", server: "http://127.0.0.1:9000"}, "apflow tasks get r1"},
		{"server flag", globals{dataDir: "/x", server: "http://127.0.0.1:8080"}, "apflow tasks get r1 --server http://127.0.0.1:8080"},
		{"store: never its URL", globals{dataDir: "/x", storeURL: "postgres://u@127.0.0.1:5432/db?password=secret"},
			"apflow tasks get r1 --store …"},
		{"ephemeral: nothing to reach", globals{dataDir: "/tmp/d", ephemeral: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.again("tasks get r1"); got != tt.want {
				t.Fatalf("again() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResumeLine(t *testing.T) {
	t.Setenv("APFLOW_SERVER", "")
	t.Setenv("APFLOW_CACHE_DIR", "")
	rel, err := filepath.Abs("p")
	if err != nil {
		t.Fatal(err)
	}
	cache := defaultCacheDir()
	tests := []struct {
		name string
		g    globals
		want string
	}{
		{"defaults", globals{dataDir: defaultDataDir(), cacheDir: cache}, "apflow resume"},
		{"what decides how tasks run", globals{dataDir: "/tmp/d", cacheDir: "/tmp/c", pluginsDir: "p", configPath: "/etc/apflow cfg.json",
			concurrency: 3, taskTimeout: 1500 * time.Millisecond, memoryPages: 512, maxResult: 1024},
			"apflow resume --data-dir /tmp/d --plugins " + shellQuote(rel) + " --config '/etc/apflow cfg.json' --cache-dir /tmp/c" +
				" --concurrency 3 --task-timeout 1.5s --memory-pages 512 --max-result-bytes 1024"},
		{"store: never its URL", globals{dataDir: "/x", cacheDir: cache, storeURL: "postgres://u:secret@127.0.0.1/db", pluginsDir: "/pl"},
			"apflow resume --store … --plugins /pl"},
		{"ephemeral: nothing to resume", globals{dataDir: "/tmp/d", cacheDir: cache, ephemeral: true, pluginsDir: "/pl"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.resumeLine(); got != tt.want {
				t.Fatalf("resumeLine() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/tmp/d":    "/tmp/d",
		"a b":       "'a b'",
		"it's":      `'it'\''s'`,
		"":          "''",
		"$HOME/x":   "'$HOME/x'",
		"~/.apflow": "'~/.apflow'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// The commands the summary suggests are those again gives, and none when it gives none.
func TestSummaryHints(t *testing.T) {
	t.Parallel()
	big := map[string]any{}
	for i := range maxResultLines {
		big[fmt.Sprintf("k%02d", i)] = i
	}
	root := &task.Task{ID: "r1", Name: "root", Status: task.Completed, Result: big}
	failed := &task.Task{ID: "f1", Name: "bad", ParentID: "r1", Status: task.Failed, Error: "boom"}
	tail := func(string) []store.LogLine {
		return []store.LogLine{{Attempt: 1, Level: "error", Source: "plugin", Message: "oops"}}
	}
	tests := []struct {
		name    string
		again   func(string) string
		want    []string
		notWant string
	}{
		{"stored", (&globals{dataDir: "/tmp/d"}).again,
			[]string{"more lines (apflow tasks get r1 --data-dir /tmp/d)", "last log lines (apflow tasks logs f1 --data-dir /tmp/d):"}, ""},
		{"ephemeral", (&globals{ephemeral: true}).again,
			[]string{"more lines\n", "last log lines:\n"}, "apflow tasks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			printSummary(&out, []*task.Task{root, failed}, 0, true, tail, tt.again)
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("summary lacks %q:\n%s", want, out.String())
				}
			}
			if tt.notWant != "" && strings.Contains(out.String(), tt.notWant) {
				t.Errorf("summary suggests %q though nothing was stored:\n%s", tt.notWant, out.String())
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 200) // 400 bytes
	tests := []struct{ name, in, want string }{
		{"plain", "boom", "boom"},
		{"line breaks and tabs", "a\nb\r\nc\td", "a b  c d"},
		{"a terminal's escapes, shown", "x\x1b[2Jy\x07", `x\u001b[2Jy\u0007`},
		{"C1 control", "a\u009bb", `a\u009bb`},
		{"cut on a rune", long, strings.Repeat("é", 148) + "..."},
		{"300 bytes kept", strings.Repeat("a", 300), strings.Repeat("a", 300)},
	}
	for _, tc := range tests {
		if got := oneLine(tc.in); got != tc.want {
			t.Errorf("%s: oneLine(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
	// Lines of a log keep their line feeds and tabs; nothing else drives the terminal.
	if got, want := printable("a\n\tb\r\x1b[2Jc"), `a`+"\n\t"+`b\u000d\u001b[2Jc`; got != want {
		t.Errorf("printable = %q, want %q", got, want)
	}
}
