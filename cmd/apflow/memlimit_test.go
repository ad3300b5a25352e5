package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestMemoryLimitIsTheDocumentedOne: the apflow binary sets no soft memory limit of its
// own (a limit below the working set made the collector thrash) and honours GOMEMLIMIT;
// it paces the collector at GOGC=50 with a 16 MiB floor under the heap goal and a rise
// for large heaps within half of the memory it may use (GOMEMLIMIT when lower) unless
// GOGC is set (docs/configuration.md, "Memory").
func TestMemoryLimitIsTheDocumentedOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	dataDir, plugins := setup(t)
	tests := []struct {
		gomemlimit, gogc string // "" leaves it unset
		want             []string
	}{
		{"", "", []string{"memory_limit=none", "gc_percent=50", "gc_extra_percent=25", "gc_extra_max=8388608", "gc_min_heap=16777216", "gc_large_percent=100", "gc_large_from=402653184", "gc_large_full=805306368", "gc_large_memory="}},
		{"3GiB", "", []string{"memory_limit=3221225472", "gc_percent=50", "gc_extra_percent=25", "gc_extra_max=8388608", "gc_min_heap=16777216",
			"gc_large_percent=100", "gc_large_memory=3221225472"}},
		{"", "200", []string{"memory_limit=none", "gc_percent=200", "gc_extra_percent=none", "gc_extra_max=none", "gc_min_heap=none", "gc_large_percent=none"}},
	}
	for _, tc := range tests {
		cmd := exec.Command(bin, "plugins", "list", "--log-level", "debug", "--data-dir", dataDir, "--plugins", plugins)
		cmd.Env = withoutEnv(withoutEnv(os.Environ(), "GOMEMLIMIT"), "GOGC")
		if tc.gomemlimit != "" {
			cmd.Env = append(cmd.Env, "GOMEMLIMIT="+tc.gomemlimit)
		}
		if tc.gogc != "" {
			cmd.Env = append(cmd.Env, "GOGC="+tc.gogc)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GOMEMLIMIT=%q GOGC=%q: %v\n%s", tc.gomemlimit, tc.gogc, err, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("GOMEMLIMIT=%q GOGC=%q: the process does not report %s:\n%s", tc.gomemlimit, tc.gogc, w, out)
			}
		}
		// In force: GOGC's percent, or, paced, far over 50 and Go's 100: a command's
		// live heap is a few MiB, which the pacer lets grow to minHeapGoal (400 at start).
		m := regexp.MustCompile(`gc_percent_now=(\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("GOGC=%q: no gc_percent_now in:\n%s", tc.gogc, out)
		}
		now, _ := strconv.Atoi(string(m[1]))
		if (tc.gogc == "" && now <= 100) || (tc.gogc != "" && strconv.Itoa(now) != tc.gogc) {
			t.Errorf("GOGC=%q: gc_percent_now=%d, want GOGC's, or over 100 when paced", tc.gogc, now)
		}
	}
}

// withoutEnv returns env without the variable key.
func withoutEnv(env []string, key string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}
