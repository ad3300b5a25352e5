package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

func TestReachFlags(t *testing.T) {
	t.Setenv("APFLOW_SERVER", "http://127.0.0.1:9000")
	tests := []struct {
		name string
		g    globals
		want string
	}{
		{"defaults", globals{dataDir: defaultDataDir()}, ""},
		{"data dir", globals{dataDir: "/tmp/run 1"}, " --data-dir '/tmp/run 1'"},
		{"plain data dir", globals{dataDir: "/tmp/d"}, " --data-dir /tmp/d"},
		{"server from the environment", globals{dataDir: "/x", server: "http://127.0.0.1:9000"}, ""},
		{"server flag", globals{dataDir: "/x", server: "http://127.0.0.1:8080"}, " --server http://127.0.0.1:8080"},
		{"store, password hidden", globals{dataDir: "/x", storeURL: "postgres://u:secret@127.0.0.1:5432/db"},
			" --store postgres://u:xxxxx@127.0.0.1:5432/db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.reachFlags(); got != tt.want {
				t.Fatalf("reachFlags() = %q, want %q", got, tt.want)
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

// The commands the summary suggests carry the flags that reach the run's tasks.
func TestSummaryHintsReachTheTasks(t *testing.T) {
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
	var out bytes.Buffer
	printSummary(&out, []*task.Task{root, failed}, 0, true, tail, " --data-dir /tmp/d")
	for _, want := range []string{"(apflow tasks get r1 --data-dir /tmp/d)", "(apflow tasks logs f1 --data-dir /tmp/d)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}
