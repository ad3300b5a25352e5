package sandbox

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestSleepMS checks apflow.sleep_ms: a granted sleep returns SleepOK, an ungranted or
// invalid one is refused with its status and a logged reason, and a sleep that the
// task's deadline, a cancel or the runtime's closing cuts short ends the call as timed
// out or cancelled (never with the guest's result) and discards its instance.
func TestSleepMS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		grants Grants
		ms     int64
		stop   string // "", "timeout", "cancel" or "close"
		output string // when the call succeeds
		kind   Kind   // when it fails
		log    string
	}{
		{name: "zero", grants: Grants{Clock: true}, ms: 0, output: `{"status":0}`},
		{name: "short", grants: Grants{Clock: true}, ms: 20, output: `{"status":0}`},
		{name: "not granted", ms: 20, output: `{"status":4}`,
			log: "capability clock not granted to plugin sleep_ms"},
		{name: "negative", grants: Grants{Clock: true}, ms: -1, output: `{"status":3}`,
			log: "sleep_ms(-1): the duration is negative"},
		{name: "longer than any task", grants: Grants{Clock: true}, ms: MaxTimeoutMS + 1, output: `{"status":3}`,
			log: "sleep_ms(3600001): the duration is longer than the longest task timeout (3600000 ms)"},
		{name: "past the deadline", grants: Grants{Clock: true}, ms: MaxTimeoutMS, stop: "timeout",
			kind: KindTimeout, log: "reason=\"deadline passed\""},
		{name: "cancelled", grants: Grants{Clock: true}, ms: MaxTimeoutMS, stop: "cancel",
			kind: KindCancelled, log: "reason=cancelled"},
		{name: "runtime closed", grants: Grants{Clock: true}, ms: MaxTimeoutMS, stop: "close",
			kind: KindCancelled, log: "reason=cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{Grants: grantsFor("sleep_ms", tt.grants)})
			m := load(t, rt, "sleep_ms")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			logger, logs := newLogger()
			rq := req(strconv.FormatInt(tt.ms, 10))
			rq.Logger = logger
			switch tt.stop {
			case "timeout":
				rq.Limits = task.Limits{TimeoutMS: 200}
			case "cancel":
				time.AfterFunc(100*time.Millisecond, cancel)
			case "close":
				time.AfterFunc(100*time.Millisecond, func() { _ = rt.Close(context.Background()) })
			}
			resp, err := executeReqOrHang(t, ctx, m, rq)
			if tt.log != "" {
				mustContain(t, "logs", logs.String(), tt.log)
			}
			if tt.kind == "" {
				if err != nil {
					t.Fatalf("Execute: %v", err)
				}
				if string(resp.Output) != tt.output {
					t.Fatalf("output = %s, want %s", resp.Output, tt.output)
				}
				// A timer never fires early: a completed sleep lasted at least what was
				// asked (a guarantee, not a performance measure).
				if tt.output == `{"status":0}` && resp.Usage.DurationMS < float64(tt.ms) {
					t.Fatalf("the call lasted %v ms, less than the %d ms slept", resp.Usage.DurationMS, tt.ms)
				}
				return
			}
			wantInterrupted(t, m, err, tt.kind)
		})
	}
}

// TestSleepEndsCall checks what a sleep cut short tells the guest and the host: the
// status says which of cancel and deadline happened (a cancel by the caller wins, as in
// describe), and the call is marked ended so that a guest returning normally afterwards
// still fails with the context's error.
func TestSleepEndsCall(t *testing.T) {
	t.Parallel()
	expired := func(parent context.Context) context.Context {
		ctx, cancel := context.WithDeadline(parent, time.Now().Add(-time.Second))
		t.Cleanup(cancel)
		return ctx
	}
	cancelled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}
	tests := []struct {
		name   string
		parent context.Context
		ctx    func(parent context.Context) context.Context
		d      time.Duration
		status int32
		err    error
	}{
		{"running", context.Background(), func(p context.Context) context.Context { return p }, time.Millisecond, SleepOK, nil},
		{"deadline passed", context.Background(), expired, time.Hour, SleepDeadline, context.DeadlineExceeded},
		{"caller cancelled", cancelled(), expired, time.Hour, SleepCancelled, context.Canceled},
		{"runtime closing", context.Background(), func(context.Context) context.Context { return cancelled() },
			time.Hour, SleepCancelled, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, _ := newLogger()
			cs := &callState{parent: tt.parent, logger: logger, grants: Grants{Clock: true}}
			ctx := tt.ctx(tt.parent)
			if got := cs.sleep(ctx, tt.d); got != tt.status {
				t.Fatalf("sleep = %d, want %d", got, tt.status)
			}
			if err := cs.endedCall(ctx); !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("endedCall = %v, want %v", err, tt.err)
			}
		})
	}
}

// TestSleepHoldsInstance checks that a sleeping call keeps its instance: a call made
// meanwhile gets another instance and completes while the first still sleeps, which
// then ends cancelled.
func TestSleepHoldsInstance(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{Grants: grantsFor("sleep_ms", Grants{Clock: true})})
	m := load(t, rt, "sleep_ms")
	before := m.Stats().Created
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slept := make(chan error, 1)
	go func() {
		_, err := m.Execute(ctx, req(strconv.FormatInt(MaxTimeoutMS, 10)))
		slept <- err
	}()
	for m.Stats().Created == before { // the sleeper has its instance
		time.Sleep(time.Millisecond)
	}
	resp, err := executeReqOrHang(t, context.Background(), m, req("0"))
	if err != nil || string(resp.Output) != `{"status":0}` {
		t.Fatalf("a call beside the sleeper = %v, %v", resp, err)
	}
	if s := m.Stats(); s.Created != before+2 || s.Reused != 0 {
		t.Fatalf("the sleeping instance served another call: %+v", s)
	}
	select {
	case err := <-slept:
		t.Fatalf("the sleeper returned before its cancel: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-slept:
		if KindOf(err) != KindCancelled {
			t.Fatalf("sleeper: err = %v, want kind %s", err, KindCancelled)
		}
	case <-time.After(hangLimit):
		t.Fatalf("the sleeper is still blocked %v after its cancel", hangLimit)
	}
}
