package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTreeFileRunsAgain: the ids of a tree file are names local to each run, so the same
// file runs twice (two trees), and dependencies' results are injected under the ids the
// file uses; --keep-ids stores the file's ids, so a second run is refused; --ephemeral
// runs without creating or reading the data dir.
func TestTreeFileRunsAgain(t *testing.T) {
	t.Parallel()
	_, plugins := setup(t)
	tree := writeTree(t, `[
	 {"id": "report", "name": "Report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["a", "Second"]},
	 {"id": "a", "name": "First", "parent_id": "report", "schemas": {"method": "echo"}, "inputs": {"x": 1}},
	 {"id": "b", "name": "Second", "parent_id": "report", "schemas": {"method": "echo"}, "inputs": {"y": 2}}
	]`)
	tests := []struct {
		name      string
		flags     []string
		wantCodes [2]int
		roots     int // trees stored after both runs; -1: no data dir at all
	}{
		{"local ids", nil, [2]int{exitOK, exitOK}, 2},
		{"keep ids", []string{"--keep-ids"}, [2]int{exitOK, exitInvalid}, 1},
		{"ephemeral", []string{"--ephemeral"}, [2]int{exitOK, exitOK}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dataDir := filepath.Join(t.TempDir(), "home")
			base := append([]string{"--data-dir", dataDir, "--plugins", plugins}, tt.flags...)
			for i, want := range tt.wantCodes {
				code, stdout, stderr := apflow(t, "", append([]string{"run", "-q", "--json", tree}, base...)...)
				if code != want {
					t.Fatalf("run %d: exit %d, want %d\n%s\n%s", i+1, code, want, stdout, stderr)
				}
				if code != exitOK {
					continue
				}
				var out struct {
					Task runTask `json:"task"`
				}
				if err := json.Unmarshal([]byte(stdout), &out); err != nil {
					t.Fatalf("run %d: %v\n%s", i+1, err, stdout)
				}
				// The aggregator keys each result by the reference the file used: an id
				// ("a") or a name ("Second").
				results, _ := out.Task.Result["results"].(map[string]any)
				if _, ok := results["a"]; !ok || results["Second"] == nil || len(results) != 2 {
					t.Errorf("run %d: results keyed %v, want a and Second", i+1, slices.Collect(maps.Keys(results)))
				}
			}
			if tt.roots < 0 {
				if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
					t.Fatalf("--ephemeral touched the data dir: %v", err)
				}
				return
			}
			_, stdout, _ := apflow(t, "", append([]string{"tasks", "list"}, base[:4]...)...)
			if n := strings.Count(stdout, "Report"); n != tt.roots {
				t.Errorf("%d trees stored, want %d:\n%s", n, tt.roots, stdout)
			}
		})
	}
}

// runTask is the part of a task apflow run --json prints that the test reads.
type runTask struct {
	ID     string         `json:"id"`
	Result map[string]any `json:"result"`
}

// TestMaxTreeBytes: --max-tree-bytes bounds the tree file (and the submission), named in
// the refusal, so that a tree larger than the default can be run by raising it.
func TestMaxTreeBytes(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	tree := writeTree(t, goodTree)
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"unkeyed", nil},
		// A keyed run digests the tree it decoded, under the same limit.
		{"keyed", []string{"--idempotency-key", "max-tree-bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := append([]string{"run", "-q", "--data-dir", dataDir, "--plugins", plugins, tree}, tc.flags...)
			code, _, stderr := apflow(t, "", append(base, "--max-tree-bytes", "100")...)
			if code != exitInvalid || !strings.Contains(stderr, "--max-tree-bytes") {
				t.Fatalf("a file over the limit: exit %d, %s", code, stderr)
			}
			if code, stdout, stderr := apflow(t, "", append(base, "--max-tree-bytes", "100000")...); code != exitOK {
				t.Fatalf("within the limit: exit %d\n%s\n%s", code, stdout, stderr)
			}
		})
	}
}

// TestAsync: what async's goroutine returns reaches the goroutine that waits, and so does
// its panic, with the stack where it happened, so that the waiting goroutine's deferred
// calls (the store's close) run before the process ends; waiting again answers the same
// error or panic, and keeps no value.
func TestAsync(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		fn        func() (int, error)
		want      int
		wantErr   error
		wantPanic string
	}{
		{"value", func() (int, error) { return 7, nil }, 7, nil, ""},
		{"error", func() (int, error) { return 0, boom }, 0, boom, ""},
		{"panic", func() (int, error) { panic("decoder bug") }, 0, nil, "decoder bug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait := async(tc.fn)
			for call := range 2 { // a second call answers the same, but the zero value
				var raised any
				got, err := func() (int, error) {
					defer func() { raised = recover() }()
					return wait()
				}()
				want := tc.want
				if call > 0 {
					want = 0
				}
				if tc.wantPanic == "" {
					if raised != nil || got != want || !errors.Is(err, tc.wantErr) {
						t.Fatalf("call %d: got %d, %v, panic %v; want %d, %v", call, got, err, raised, want, tc.wantErr)
					}
					continue
				}
				msg := fmt.Sprint(raised)
				if !strings.HasPrefix(msg, tc.wantPanic+"\n") || !strings.Contains(msg, "TestAsync") {
					t.Fatalf("call %d: panic %q, want %q and the stack of the function that panicked", call, msg, tc.wantPanic)
				}
			}
		})
	}
}
