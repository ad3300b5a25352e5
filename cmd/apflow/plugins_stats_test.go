package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestPluginsStats: plugins stats prints every plugin's pool counters, as a table or as
// JSON; without --server they are this process's (none ran) and it says so, with
// --server they are the server's, read from its /metrics.
func TestPluginsStats(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	base := []string{"--data-dir", dataDir, "--plugins", plugins}

	// A host that ran echo twice serves /metrics, as apflow serve does.
	g := &globals{dataDir: t.TempDir(), pluginsDir: plugins, logLevel: "off", stdout: io.Discard, stderr: io.Discard}
	ctx := context.Background()
	h, err := g.openHost(ctx, roleWorker)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.close(ctx) })
	echo, err := h.registry.Lookup("echo")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := echo.Execute(ctx, &executor.Request{Task: &task.Task{ID: "t"}, Inputs: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	echo.Release()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_ = h.registry.WriteMetrics(w)
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name     string
		args     []string
		wantEcho statsView // Hash is not compared
		note     bool
	}{
		{"local", base, statsView{ID: "echo"}, true},
		{"server", []string{"--server", srv.URL}, statsView{ID: "echo", Calls: 2, Created: 1, Reused: 1, Idle: 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name+" json", func(t *testing.T) {
			code, stdout, stderr := apflow(t, "", append([]string{"plugins", "stats", "--json"}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			var views []statsView
			if err := json.Unmarshal([]byte(stdout), &views); err != nil {
				t.Fatalf("%v\n%s", err, stdout)
			}
			ids := map[string]statsView{}
			for _, v := range views {
				ids[v.ID] = v
			}
			got, ok := ids["echo"]
			if !ok || ids["spin"].ID != "spin" || ids["divzero"].ID != "divzero" {
				t.Fatalf("plugins = %+v, want echo, spin and divzero", views)
			}
			if len(got.Hash) != 64 {
				t.Fatalf("echo sha256 = %q", got.Hash)
			}
			got.Hash = ""
			if got != tc.wantEcho {
				t.Fatalf("echo = %+v, want %+v", got, tc.wantEcho)
			}
			if strings.Contains(stderr, localStatsNote) != tc.note {
				t.Fatalf("stderr = %q; the note about local counters is expected: %v", stderr, tc.note)
			}
		})
		t.Run(tc.name+" table", func(t *testing.T) {
			code, stdout, stderr := apflow(t, "", append([]string{"plugins", "stats"}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if got := strings.Fields(lines[0]); strings.Join(got, " ") != "PLUGIN SHA256 CALLS CREATED REUSED RECYCLED DISCARDED IDLE" {
				t.Fatalf("header = %q", lines[0])
			}
			w := tc.wantEcho
			want := []string{"echo", "", strconv.FormatInt(w.Calls, 10), strconv.FormatInt(w.Created, 10), strconv.FormatInt(w.Reused, 10), strconv.FormatInt(w.Recycled, 10), strconv.FormatInt(w.Discarded, 10), strconv.FormatInt(w.Idle, 10)}
			f := strings.Fields(lineWith(stdout, "echo "))
			if len(f) != len(want) {
				t.Fatalf("echo row = %q\n%s", f, stdout)
			}
			f[1] = ""
			if strings.Join(f, " ") != strings.Join(want, " ") {
				t.Fatalf("echo row = %q, want %q", f, want)
			}
		})
	}

	t.Run("server without metrics", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "apflow_plugin_calls_total{plugin=\"echo\"} many\n")
		}))
		t.Cleanup(bad.Close)
		code, _, stderr := apflow(t, "", "plugins", "stats", "--server", bad.URL)
		if code == exitOK || !strings.Contains(stderr, "metrics line 1") {
			t.Fatalf("exit %d, stderr %s", code, stderr)
		}
	})
}
