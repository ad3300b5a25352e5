//go:build unix

package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/apflowbin"
)

// TestRunRefusesWhatIsNotARegularFile: a named pipe (or a directory) is refused at once
// with exit status 2, instead of blocking until a writer comes.
func TestRunRefusesWhatIsNotARegularFile(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	fifo := filepath.Join(t.TempDir(), "tree.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"named pipe", fifo, "named pipe"},
		{"directory", t.TempDir(), "directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				code           int
				stdout, stderr string
			}
			done := make(chan result, 1)
			go func() {
				code, stdout, stderr := apflow(t, "", "run", "--data-dir", dataDir, "--plugins", plugins, tc.path)
				done <- result{code, stdout, stderr}
			}()
			var res result
			select {
			case res = <-done:
			case <-time.After(hangGuard):
				// Release the blocked reader: a writer that closes at once gives it EOF.
				if w, err := os.OpenFile(tc.path, os.O_WRONLY, 0); err == nil {
					w.Close()
				}
				<-done
				t.Fatalf("apflow run %s blocked instead of refusing it", tc.path)
			}
			if res.code != exitInvalid {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", res.code, exitInvalid, res.stdout, res.stderr)
			}
			for _, want := range []string{tc.path, "not a regular file", tc.want, "- to read stdin"} {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res.stderr)
				}
			}
		})
	}
}

// TestBinaryExitsOnSIGINTWhileReadingStdin: the built binary reading its tree from a
// stdin that never closes ends on SIGINT with exit status 130.
func TestBinaryExitsOnSIGINTWhileReadingStdin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := apflowbin.Build(t)
	dataDir, plugins := setup(t)
	cmd := exec.Command(bin, "run", "--log-level", "debug", "--data-dir", dataDir, "--plugins", plugins, "-")
	stdin, err := cmd.StdinPipe() // never closed before the process ends
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	guard := time.AfterFunc(hangGuard, func() { _ = cmd.Process.Kill() })
	defer guard.Stop()
	// Signal once the command is reading stdin (its signal handling is in place by then).
	var stderr strings.Builder
	sc := bufio.NewScanner(stderrPipe)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "reading the task tree") {
			break
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stderrPipe)
	stderr.Write(rest)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("apflow run - on SIGINT: %v (exit code %d), want exit %d; stderr:\n%s", err, cmd.ProcessState.ExitCode(), exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("stderr does not say it was interrupted:\n%s", stderr.String())
	}
}
