package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A mistyped subcommand of a command group must fail, not print the group's help and
// exit 0 (a script running "apflow plugins rm x" would believe the plugin is gone).
func TestGroupCommandsRefuseUnknownSubcommands(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"plugins", "rm", "delay"},
		{"tasks", "show", "x"},
		{"hooks", "ls"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := apflow(t, "", append([]string{"--data-dir", t.TempDir()}, args...)...)
			if code == exitOK {
				t.Fatalf("exit 0 for unknown subcommand; stdout %q", out)
			}
			if !strings.Contains(errOut, `unknown command "`+args[1]+`"`) {
				t.Fatalf("stderr %q does not name the unknown command", errOut)
			}
		})
	}
	// The bare group still shows its help and succeeds.
	code, out, _ := apflow(t, "", "tasks")
	if code != exitOK || !strings.Contains(out, "Available Commands") {
		t.Fatalf("apflow tasks: code %d, stdout %q", code, out)
	}
}

// A refused token must say why (expired, bad signature, missing), not only
// "Unauthorized": the reason is in the error's data.
func TestRemoteErrorShowsReason(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":null,"error":{"code":-32004,"message":"Unauthorized","data":{"reason":"unauthorized: token has invalid claims: token is expired"}}}`)
	}))
	defer srv.Close()
	code, _, errOut := apflow(t, "", "--server", srv.URL, "--token", "x", "tasks", "list")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(errOut, "Unauthorized") || !strings.Contains(errOut, "token is expired") {
		t.Fatalf("stderr %q does not give the reason", errOut)
	}
}
