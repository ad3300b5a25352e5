package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/sandbox"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestThroughTheHost builds the plugin for wasip1 and runs it in the real sandbox, so
// that Context.Sleep goes through the sleep_ms import: the retries wait and succeed, a
// wait longer than the task's deadline ends the task timed out, a cancel during a wait
// ends it cancelled, and without the clock grant the wait is refused.
func TestThroughTheHost(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("building a wasm plugin is slow; skipped with -short")
	}
	wasm := filepath.Join(t.TempDir(), "retry_fetch.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", wasm, ".")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}

	var failures atomic.Int64 // requests still to fail with 503
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	var clock atomic.Bool
	ctx := context.Background()
	rt, err := sandbox.New(ctx, sandbox.Config{Grants: func(id string) sandbox.Grants {
		return sandbox.Grants{HTTP: []string{u.Hostname()}, Clock: clock.Load()}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	m, err := rt.Load(ctx, b, "retry_fetch.wasm")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		failures  int64
		clock     bool
		firstWait int64
		timeoutMS int64
		cancel    bool
		want      string // output substring, or the error kind
	}{
		{name: "retries", failures: 2, clock: true, firstWait: 10, want: `"attempts":3`},
		{name: "no clock grant", failures: 9, firstWait: 10, want: `"code":"sleep_refused"`},
		{name: "wait past the deadline", failures: 9, clock: true, firstWait: 60000, timeoutMS: 500,
			want: string(sandbox.KindTimeout)},
		{name: "cancelled during a wait", failures: 9, clock: true, firstWait: 60000, cancel: true,
			want: string(sandbox.KindCancelled)},
	}
	for _, tt := range tests { // in turn: they share the server and the grants
		failures.Store(tt.failures)
		clock.Store(tt.clock)
		cctx, cancel := context.WithCancel(ctx)
		if tt.cancel {
			time.AfterFunc(300*time.Millisecond, cancel)
		}
		inputs, _ := json.Marshal(map[string]any{"url": srv.URL, "first_wait_ms": tt.firstWait})
		resp, err := m.Execute(cctx, &executor.Request{Task: &task.Task{ID: "t"}, Inputs: inputs,
			Limits: task.Limits{TimeoutMS: tt.timeoutMS}})
		cancel()
		switch {
		case err != nil && string(sandbox.KindOf(err)) != tt.want:
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.want)
		case err == nil && !strings.Contains(string(resp.Output), tt.want):
			t.Errorf("%s: output = %s, want it to contain %s", tt.name, resp.Output, tt.want)
		case tt.want == string(sandbox.KindTimeout) && !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("%s: err = %v, want a timeout wrapping context.DeadlineExceeded", tt.name, err)
		}
	}
}
