package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestServeHotLoadDuringRun replaces and then removes a plugin file while a tree that
// uses it runs, the way an operator would (cp and rm in the plugins directory), and
// checks what users see in the tasks.
//
// Only `apflow serve` watches the plugins directory (`apflow run` loads it once at start),
// so the test drives serve. The swap executor exists in two versions whose results are
// {"version":1} and {"version":2}. Tasks that start after a change are held back by
// optional dependencies on "gate" tasks (spin, cancelled by the test once the server has
// taken the change), so which version each task gets does not depend on timing:
//
//	hl-a  swap, slow, starts at once                    → v1, even though v2 arrives while it runs
//	hl-b  swap, after gate1 (cancelled after the swap)  → v2
//	hl-d  swap, slow, after gate1                       → v2, still running when the file is removed
//	hl-c  swap, after gate2 (cancelled after removal)   → fails: could not be loaded
func TestServeHotLoadDuringRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs apflow serve")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	dataDir, plugins := setup(t)
	v1, err := os.ReadFile("testdata/swap_v1.wasm")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := os.ReadFile("testdata/swap_v2.wasm")
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := sha256Hex(v1), sha256Hex(v2)
	swapFile := filepath.Join(plugins, "swap.wasm")
	if err := os.WriteFile(swapFile, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, bin, dataDir, plugins, "")
	if got := srv.pluginHash(t, "swap"); got != h1 {
		t.Fatalf("swap is loaded as %q, want v1 %s", got, h1)
	}

	optional := func(id string) []map[string]any { return []map[string]any{{"id": id, "required": false}} }
	swapTask := func(id string, pad string, after string) map[string]any {
		tk := map[string]any{"id": id, "name": id, "parent_id": "hl-root", "schemas": map[string]any{"method": "swap"},
			"inputs": map[string]any{"pad": pad}, "limits": gateLimits}
		if after != "" {
			tk["dependencies"] = optional(after)
		}
		return tk
	}
	gate := func(id string) map[string]any {
		return map[string]any{"id": id, "name": id, "parent_id": "hl-root", "schemas": map[string]any{"method": "spin"},
			"inputs": map[string]any{"pad": hugePad}, "limits": gateLimits}
	}
	var deps []map[string]any
	for _, id := range []string{"hl-a", "hl-b", "hl-c", "hl-d"} {
		deps = append(deps, optional(id)...)
	}
	longPad := spinPad(8_000) // a few seconds: long enough to outlive a directory rescan
	srv.mustCall(t, "", "tasks.create", []map[string]any{
		{"id": "hl-root", "name": "hot-load", "schemas": map[string]any{"method": "aggregate_results_executor"}, "dependencies": deps},
		swapTask("hl-a", longPad, ""),
		gate("hl-gate1"),
		swapTask("hl-b", "short", "hl-gate1"),
		swapTask("hl-d", longPad, "hl-gate1"),
		gate("hl-gate2"),
		swapTask("hl-c", "short", "hl-gate2"),
	}, nil)
	done := make(chan map[string]any, 1)
	go func() {
		res, rerr := srv.callNoFatal("", "tasks.execute", map[string]any{"task_id": "hl-root"})
		var out map[string]any
		_ = json.Unmarshal(res, &out)
		if rerr != nil {
			out = map[string]any{"rpc_error": rerr.Error()}
		}
		done <- out
	}()
	srv.waitStatus(t, "", "hl-a", "in_progress")
	srv.waitStatus(t, "", "hl-gate1", "in_progress")
	srv.waitStatus(t, "", "hl-gate2", "in_progress")

	// The operator copies the new version over the file.
	if err := os.WriteFile(swapFile, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	srv.waitPlugin(t, "swap", h2)
	if a := srv.getTask(t, "", "hl-a"); a.Status != "in_progress" {
		// Still correct (hl-a started on v1), but the swap did not overlap the task.
		t.Logf("hl-a ended (%s) before the server took v2: the machine is slow", a.Status)
	}
	srv.mustCall(t, "", "tasks.cancel", map[string]any{"task_ids": "hl-gate1"}, nil)
	srv.waitStatus(t, "", "hl-d", "in_progress")

	// The operator removes the plugin.
	if err := os.Remove(swapFile); err != nil {
		t.Fatal(err)
	}
	srv.waitPlugin(t, "swap", "")
	if d := srv.getTask(t, "", "hl-d"); d.Status != "in_progress" {
		t.Logf("hl-d ended (%s) before the server saw the removal: the machine is slow", d.Status)
	}
	srv.mustCall(t, "", "tasks.cancel", map[string]any{"task_ids": "hl-gate2"}, nil)

	select {
	case out := <-done:
		if out["status"] != "completed" {
			t.Errorf("the run answered %v; the root's dependencies are optional, it should complete", out)
		}
	case <-time.After(e2eWait):
		t.Fatalf("the run did not end within %s", e2eWait)
	}
	tests := []struct {
		id, status, plugin string
		version            float64 // 0: no result
		errorHas           string
	}{
		{id: "hl-a", status: "completed", plugin: h1, version: 1},
		{id: "hl-b", status: "completed", plugin: h2, version: 2},
		{id: "hl-d", status: "completed", plugin: h2, version: 2},
		{id: "hl-c", status: "failed", errorHas: "Executor 'swap' could not be loaded for task hl-c"},
		{id: "hl-gate1", status: "cancelled"},
		{id: "hl-gate2", status: "cancelled"},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			got := srv.getTask(t, "", tc.id)
			if got.Status != tc.status {
				t.Fatalf("status %s (error %q), want %s", got.Status, got.errorText(), tc.status)
			}
			if tc.plugin != "" && got.pluginHash() != tc.plugin {
				t.Errorf("ran on plugin %s, want %s", got.pluginHash(), tc.plugin)
			}
			if tc.version != 0 {
				res, _ := got.Result.(map[string]any)
				if res["version"] != tc.version {
					t.Errorf("result %v, want version %v", got.Result, tc.version)
				}
			}
			if !strings.Contains(got.errorText(), tc.errorHas) {
				t.Errorf("error %q lacks %q", got.errorText(), tc.errorHas)
			}
		})
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// pluginHash returns the hash GET /plugins/{id} reports, or "" when the plugin is not
// loaded (404).
func (p *serveProc) pluginHash(t *testing.T, id string) string {
	t.Helper()
	code, raw := p.do(t, "", http.MethodGet, "/plugins/"+id, nil, "")
	switch code {
	case http.StatusNotFound:
		return ""
	case http.StatusOK:
		var info struct{ Hash string }
		if err := json.Unmarshal(raw, &info); err != nil {
			t.Fatalf("GET /plugins/%s: %v\n%s", id, err, raw)
		}
		return info.Hash
	default:
		t.Fatalf("GET /plugins/%s: HTTP %d %s", id, code, raw)
		return ""
	}
}

// waitPlugin polls GET /plugins/{id} until it reports hash ("" = not loaded): the
// directory watcher rescans every second.
func (p *serveProc) waitPlugin(t *testing.T, id, hash string) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		got := p.pluginHash(t, id)
		if got == hash {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %s is %q after %s, want %q\nstderr:\n%s", id, got, e2eWait, hash, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
