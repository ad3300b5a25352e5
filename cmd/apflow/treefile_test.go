package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/internal/logbuf"
)

// hangGuard bounds how long a test waits for a command that, when broken, never returns.
const hangGuard = time.Minute

// TestRunStdinEndsWhenInterrupted: reading the tree from a stdin that never closes ends
// when the command's context is cancelled (Ctrl-C), with exit status 130.
func TestRunStdinEndsWhenInterrupted(t *testing.T) {
	t.Parallel()
	dataDir, plugins := setup(t)
	stdin, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr logbuf.Buffer
	go func() {
		done <- execute(ctx, []string{"run", "--data-dir", dataDir, "--plugins", plugins, "-"}, stdin, io.Discard, &stderr)
	}()
	if _, err := w.Write([]byte("[")); err != nil { // the command is reading
		t.Fatal(err)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
			t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr.String())
		}
	case <-time.After(hangGuard):
		w.CloseWithError(errors.New("test gave up"))
		<-done
		t.Fatal("apflow run - did not end when interrupted while reading stdin")
	}
}
