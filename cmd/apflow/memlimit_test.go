package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMemoryLimitIsTheDocumentedOne: the apflow binary sets no soft memory limit of its
// own (a limit below the working set made the collector thrash) and honours GOMEMLIMIT
// (docs/configuration.md, "Memory").
func TestMemoryLimitIsTheDocumentedOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := buildBinary(t)
	dataDir, plugins := setup(t)
	tests := []struct {
		gomemlimit string // "" leaves it unset
		want       string
	}{
		{"", "memory_limit=none"},
		{"3GiB", "memory_limit=3221225472"},
	}
	for _, tc := range tests {
		cmd := exec.Command(bin, "plugins", "list", "--log-level", "debug", "--data-dir", dataDir, "--plugins", plugins)
		cmd.Env = withoutEnv(os.Environ(), "GOMEMLIMIT")
		if tc.gomemlimit != "" {
			cmd.Env = append(cmd.Env, "GOMEMLIMIT="+tc.gomemlimit)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("GOMEMLIMIT=%q: %v\n%s", tc.gomemlimit, err, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("GOMEMLIMIT=%q: the process does not report %s:\n%s", tc.gomemlimit, tc.want, out)
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
