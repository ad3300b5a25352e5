package sandbox

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// hangLimit only detects a call that never ends; it asserts no timing.
const hangLimit = 20 * time.Second

// executeOrHang runs m.Execute in the background and fails the test if it has not
// returned after hangLimit (the guests here would otherwise block for centuries).
func executeOrHang(t *testing.T, ctx context.Context, m *Module, r *reqArgs) error {
	t.Helper()
	rq := req(r.inputs)
	rq.Limits = r.limits
	_, err := executeReqOrHang(t, ctx, m, rq)
	return err
}

// executeReqOrHang is executeOrHang for a request built by the caller.
func executeReqOrHang(t *testing.T, ctx context.Context, m *Module, rq *executor.Request) (*executor.Response, error) {
	t.Helper()
	type result struct {
		resp *executor.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := m.Execute(ctx, rq)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		return r.resp, r.err
	case <-time.After(hangLimit):
		t.Fatalf("%s: the call is still blocked in a host call %v after it started", m.ID(), hangLimit)
		return nil, nil
	}
}

// reqArgs are the inputs and limits of one Execute.
type reqArgs struct {
	inputs string
	limits task.Limits
}

// TestBlockingHostCallsEnd checks that a guest blocked in a host call (a sleep granted
// by the clock capability, an HTTP request to a server that never answers) is released
// when the call's deadline passes, when the caller cancels, and when the runtime
// closes; the call fails with what happened and its instance is not reused.
func TestBlockingHostCallsEnd(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })
	slowReq := `{"url":"` + srv.URL + `/hang","timeout_ms":3600000}`

	tests := []struct {
		name   string
		plugin string
		grants Grants
		inputs string
		stop   string // "timeout", "cancel" or "close"
		kind   Kind
	}{
		{"sleep past the deadline", "sleep", Grants{Clock: true}, `{}`, "timeout", KindTimeout},
		{"sleep cancelled", "sleep", Grants{Clock: true}, `{}`, "cancel", KindCancelled},
		{"sleep at runtime close", "sleep", Grants{Clock: true}, `{}`, "close", KindCancelled},
		{"http past the deadline", "http_proxy", Grants{HTTP: []string{"127.0.0.1"}}, slowReq, "timeout", KindTimeout},
		{"http cancelled", "http_proxy", Grants{HTTP: []string{"127.0.0.1"}}, slowReq, "cancel", KindCancelled},
		{"http at runtime close", "http_proxy", Grants{HTTP: []string{"127.0.0.1"}}, slowReq, "close", KindCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{Grants: grantsFor(tt.plugin, tt.grants)})
			m := load(t, rt, tt.plugin)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &reqArgs{inputs: tt.inputs}
			switch tt.stop {
			case "timeout":
				r.limits.TimeoutMS = 200
			case "cancel":
				time.AfterFunc(100*time.Millisecond, cancel)
			case "close":
				time.AfterFunc(100*time.Millisecond, func() { _ = rt.Close(context.Background()) })
			}
			err := executeOrHang(t, ctx, m, r)
			wantInterrupted(t, m, err, tt.kind)
		})
	}
}

// TestCloseWithDoneContext closes the runtime with a context that is already done while
// guests run: Close returns the context's error without closing wazero underneath them,
// and each call ends as cancelled.
func TestCloseWithDoneContext(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "loop")
	const calls = 3
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := m.Execute(context.Background(), req(`{}`))
			errs <- err
		}()
	}
	for m.Stats().Created < calls { // every call has its instance and is about to run
		time.Sleep(time.Millisecond)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	closeErr := rt.Close(done)
	for range calls {
		select {
		case err := <-errs:
			if KindOf(err) != KindCancelled {
				t.Fatalf("err = %v, want kind %s", err, KindCancelled)
			}
		case <-time.After(hangLimit):
			t.Fatalf("a call still runs %v after Close", hangLimit)
		}
	}
	if !errors.Is(closeErr, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", closeErr)
	}
	if err := rt.Close(context.Background()); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

// wantInterrupted checks that an interrupted call failed with kind (a timeout wrapping
// context.DeadlineExceeded) and that its instance was discarded, not kept for reuse.
func wantInterrupted(t *testing.T, m *Module, err error, kind Kind) {
	t.Helper()
	if KindOf(err) != kind {
		t.Fatalf("err = %v, want kind %s", err, kind)
	}
	if kind == KindTimeout && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout error does not wrap context.DeadlineExceeded: %v", err)
	}
	if s := m.Stats(); s.Idle != 0 || s.Reused != 0 || s.Discarded != s.Created {
		t.Fatalf("the interrupted instance was kept: %+v", s)
	}
}

// TestRunawayGuestsStop checks that a guest that never returns is stopped by the
// interrupt checks the rewrite inserts, whether it spins in a loop or in a call tree of
// 2^60 calls that never grows deep (the stack budget never traps it), at its deadline,
// when the caller cancels and when the runtime closes; the instance is not reused.
func TestRunawayGuestsStop(t *testing.T) {
	t.Parallel()
	for _, plugin := range []string{"loop", "calltree"} {
		for _, tt := range []struct {
			stop string
			kind Kind
		}{{"timeout", KindTimeout}, {"cancel", KindCancelled}, {"close", KindCancelled}} {
			t.Run(plugin+" "+tt.stop, func(t *testing.T) {
				t.Parallel()
				rt := setup(t, Config{})
				m := load(t, rt, plugin)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				r := &reqArgs{inputs: `{}`}
				switch tt.stop {
				case "timeout":
					r.limits.TimeoutMS = 100
				case "cancel":
					time.AfterFunc(100*time.Millisecond, cancel)
				case "close":
					time.AfterFunc(100*time.Millisecond, func() { _ = rt.Close(context.Background()) })
				}
				err := executeOrHang(t, ctx, m, r)
				wantInterrupted(t, m, err, tt.kind)
			})
		}
	}
}

// TestRaisedFlagDiscardsInstance checks that an instance whose interrupt flag was raised
// is discarded even when its call returned healthy first (the deadline passed between
// the guest's return and the release): reused, its next call would trap at once.
func TestRaisedFlagDiscardsInstance(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "echo")
	ctx, cancel := context.WithCancel(context.Background())
	in, err := m.pool.acquire(ctx, rt.cfg.Defaults.MemoryPages, clockRandom{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	m.pool.release(in, true)
	if s := m.Stats(); s.Idle != 0 || s.Discarded != 1 {
		t.Fatalf("an instance with its flag raised was kept: %+v", s)
	}
	if _, err := m.Execute(context.Background(), req(`{}`)); err != nil {
		t.Fatalf("next call: %v", err)
	}
}
