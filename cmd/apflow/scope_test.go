package main

import (
	"strings"
	"testing"
)

// TestServerFlagScope: --server and $APFLOW_SERVER reach only the commands that talk to
// a server; a command that does not refuses --server on its command line, which it
// would ignore, and works locally with $APFLOW_SERVER set.
func TestServerFlagScope(t *testing.T) {
	dataDir, plugins := setup(t)
	const url = "http://127.0.0.1:1"
	tests := []struct {
		name   string
		envURL bool
		args   []string
		ok     bool   // exit 0
		want   string // in stderr
	}{
		{"resume --server", false, []string{"resume", "--server", url, "--data-dir", dataDir}, false, "--server: apflow resume does not talk to a server"},
		{"hooks list --server", false, []string{"hooks", "list", "--server", url, "--data-dir", dataDir}, false, "--server: apflow hooks list does not talk to a server"},
		{"hooks list, $APFLOW_SERVER set", true, []string{"hooks", "list", "--data-dir", dataDir, "--plugins", plugins}, true, ""},
		{"resume, $APFLOW_SERVER set", true, []string{"resume", "--data-dir", dataDir, "--plugins", plugins}, true, ""},
		{"tasks list --server --data-dir", false, []string{"tasks", "list", "--server", url, "--data-dir", dataDir}, false, "--data-dir chooses a local store"},
		{"tasks list, $APFLOW_SERVER set", true, []string{"tasks", "list"}, false, "127.0.0.1:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.envURL {
				t.Setenv("APFLOW_SERVER", url)
			}
			code, _, stderr := apflow(t, "", tc.args...)
			if (code == exitOK) != tc.ok || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d (want success: %v) with %q in:\n%s", code, tc.ok, tc.want, stderr)
			}
		})
	}
}
