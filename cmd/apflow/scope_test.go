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

// TestFlagValuesRefused: a flag value no command can use is refused (exit 2, naming the
// flag) rather than replaced by a default.
func TestFlagValuesRefused(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	base := []string{"tasks", "list", "--data-dir", dataDir, "--plugins", plugins}
	tests := []struct {
		name string
		args []string
		want string // in stderr; "" for a value accepted
	}{
		{"unknown log level", []string{"--log-level", "bogus"}, `--log-level "bogus"`},
		{"log level in capitals", []string{"--log-level", "DEBUG"}, ""},
		{"log level off", []string{"--log-level", "off"}, ""},
		{"log level warning", []string{"--log-level", "warning"}, ""},
		{"negative concurrency", []string{"--concurrency", "-1"}, "--concurrency -1"},
		{"negative task timeout", []string{"--task-timeout", "-5s"}, "--task-timeout -5s"},
		{"negative result bound", []string{"--max-result-bytes", "-1"}, "--max-result-bytes -1"},
		{"zero compile timeout", []string{"--compile-timeout", "0s"}, "--compile-timeout 0s"},
		{"zero lease", []string{"--lease", "0s"}, "--lease 0s"},
		{"heartbeat not under the lease", []string{"--heartbeat", "10s", "--lease", "8s"}, "--heartbeat 10s: want less than --lease 8s"},
		{"list: page too large", []string{"--limit", "5000"}, "--limit 5000: want 1 to 1000"},
		{"list: page empty", []string{"--limit", "0"}, "--limit 0"},
		{"list: negative offset", []string{"--offset", "-5"}, "--offset -5"},
		{"list: largest page", []string{"--limit", "1000"}, ""},
	}
	for _, tc := range tests {
		code, _, stderr := apflow(t, "", append(append([]string{}, base...), tc.args...)...)
		if tc.want == "" {
			if code != exitOK {
				t.Errorf("%s: exit %d\n%s", tc.name, code, stderr)
			}
			continue
		}
		if code != exitInvalid || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q in:\n%s", tc.name, code, exitInvalid, tc.want, stderr)
		}
	}
}

// TestUsageErrorsExitInvalid: a command line apflow cannot take ends with exit status 2,
// never the 1 of a task that failed.
func TestUsageErrorsExitInvalid(t *testing.T) {
	t.Parallel()
	dataDir, _ := setup(t)
	for _, args := range [][]string{
		{"run"},
		{"run", "a.json", "b.json"},
		{"tasks", "bogus"},
		{"bogus"},
		{"tasks", "list", "--limit", "x"},
		{"tasks", "list", "--no-such-flag"},
		{"tasks", "get"},
		{"run", "--max-tree-bytes", "0", "a.json"},
		{"run", "--ephemeral", "--idempotency-key", "k", "a.json"},
		{"serve", "--drain", "-1s"},
	} {
		code, _, stderr := apflow(t, "", append(args, "--data-dir", dataDir)...)
		if code != exitInvalid || stderr == "" {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitInvalid, stderr)
		}
	}
}

// TestClusterFlagsNeedAStore: the flags of a cluster node are refused without a cluster,
// where they would do nothing.
func TestClusterFlagsNeedAStore(t *testing.T) {
	t.Setenv("APFLOW_STORE", "")
	dataDir, _ := setup(t)
	for _, flag := range [][]string{{"--node-id", "n1"}, {"--lease", "5s"}, {"--heartbeat", "1s"}} {
		code, _, stderr := apflow(t, "", append([]string{"tasks", "list", "--data-dir", dataDir}, flag...)...)
		if code != exitInvalid || !strings.Contains(stderr, flag[0]+" sets this node's part in a cluster") {
			t.Errorf("%v: exit %d\n%s", flag, code, stderr)
		}
	}
}
