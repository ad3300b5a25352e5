package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/retry"
	"github.com/apflow-wasm/apflow/host/task"
)

func withRetry(s retry.Spec) option { return func(c *Config) { c.Retry = s } }

// clock is a settable engine clock (Config.Now) that otherwise follows real time.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func withClock(c *clock) option { return func(cfg *Config) { cfg.Now = c.now } }

// quick is a policy of n attempts with a backoff of 1 ms and no jitter.
func quick(n int, on ...string) map[string]any {
	p := map[string]any{"max_attempts": n, "backoff": map[string]any{"initial_ms": 1, "max_ms": 1, "jitter": 0}}
	if len(on) > 0 {
		list := make([]any, len(on))
		for i, e := range on {
			list[i] = e
		}
		p["retry_on"] = list
	}
	return p
}

// TestRetrySucceedsOnThirdAttempt: two failed attempts are retried and recorded, the
// third succeeds, and the dependent starts once, after the final outcome, with its
// result.
func TestRetrySucceedsOnThirdAttempt(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "r", method: "aggregate_results_executor", deps: req("flaky", "after")},
		spec{id: "flaky", params: map[string]any{"fail_times": 2, "retry": quick(3), "out": map[string]any{"v": 7}}},
		spec{id: "after", deps: req("flaky")},
	)
	res := v.run(root, RunOptions{})
	if res.Status != task.Completed {
		t.Fatalf("root = %s, want completed", res.Status)
	}
	f := v.wantStatus("flaky", task.Completed)
	if n := v.cat.executions["flaky"]; n != 3 {
		t.Fatalf("flaky executed %d times, want 3", n)
	}
	if f.Retry == nil || f.Retry.MaxAttempts != 3 || len(f.Retry.History) != 3 || !f.Retry.NextAttemptAt.IsZero() {
		t.Fatalf("retry state = %+v, want 3 attempts recorded and none waiting", f.Retry)
	}
	for i, a := range f.Retry.History {
		wantErr := ""
		if i < 2 {
			wantErr = "flaky " + string(rune('1'+i))
		}
		if a.Attempt != i+1 || a.Error != wantErr || a.StartedAt.IsZero() || a.EndedAt.Before(a.StartedAt) {
			t.Fatalf("attempt %d = %+v, want error %q", i+1, a, wantErr)
		}
		if i < 2 && a.Kind != string(retry.KindErrorResult) {
			t.Fatalf("attempt %d kind = %q, want error_result", i+1, a.Kind)
		}
	}
	if f.Attempts != 3 {
		t.Fatalf("attempts = %d, want 3", f.Attempts)
	}
	a := v.wantStatus("after", task.Completed)
	if n := v.cat.executions["after"]; n != 1 {
		t.Fatalf("dependent executed %d times, want 1", n)
	}
	if a.StartedAt.Before(f.CompletedAt) {
		t.Fatalf("dependent started at %v, before the final outcome at %v", a.StartedAt, f.CompletedAt)
	}
	if got := v.cat.inputs["after"]["v"]; got == nil {
		t.Fatalf("dependent inputs = %v, want the final result injected", v.cat.inputs["after"])
	}
}

// TestRetryExhausted: the last allowed attempt's failure is final; every attempt is in
// the history and the required dependent is blocked.
func TestRetryExhausted(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "r", method: "aggregate_results_executor", deps: req("bad")},
		spec{id: "bad", params: map[string]any{"fail_times": 10, "fail_as": "error", "retry": quick(3, "error")}},
		spec{id: "dep", deps: req("bad")},
	)
	v.run(root, RunOptions{})
	b := v.wantStatus("bad", task.Failed)
	if b.Error != "flaky 3" || len(b.Retry.History) != 3 || b.Retry.History[2].Kind != string(retry.KindError) {
		t.Fatalf("bad = error %q, retry %+v: want the third failure final", b.Error, b.Retry)
	}
	if d := v.wantStatus("dep", task.Pending); !d.Blocked() || v.cat.executions["dep"] != 0 {
		t.Fatalf("dependent = %q, executed %d: want blocked, never run", d.Error, v.cat.executions["dep"])
	}
}

// TestRetryOn: what a policy retries.
func TestRetryOn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		params map[string]any
		method string
		runs   int
		status task.Status
	}{
		{"default retries error results", map[string]any{"fail_times": 1, "retry": quick(2)}, "", 2, task.Completed},
		{"default does not retry host errors", map[string]any{"fail_times": 1, "fail_as": "error", "retry": quick(2)}, "", 1, task.Failed},
		{"error listed", map[string]any{"fail_times": 1, "fail_as": "error", "retry": quick(2, "error")}, "", 2, task.Completed},
		{"kind not listed", map[string]any{"fail_times": 1, "retry": quick(2, "timeout")}, "", 1, task.Failed},
		{"code matches", map[string]any{"fail_times": 1, "code": "RATE", "retry": quick(2, "code:RATE")}, "", 2, task.Completed},
		{"code differs", map[string]any{"fail_times": 1, "code": "AUTH", "retry": quick(2, "code:RATE")}, "", 1, task.Failed},
		{"pattern matches", map[string]any{"fail_times": 1, "fail_as": "error", "retry": quick(2, "match:^flaky [0-9]$")}, "", 2, task.Completed},
		{"invalid inputs are never retried", map[string]any{"retry": quick(3, "error", "error_result", "match:.")}, "typed", 0, task.Failed},
		{"executor metadata policy", map[string]any{"fail_times": 2}, "retrying", 3, task.Completed},
		{"no wait", map[string]any{"fail_times": 2, "retry": map[string]any{"max_attempts": 3,
			"backoff": map[string]any{"initial_ms": 0, "max_ms": 0}}}, "", 3, task.Completed},
		{"task overrides the executor", map[string]any{"fail_times": 2, "retry": map[string]any{"max_attempts": 1}}, "retrying", 1, task.Failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t)
			root := v.create(spec{id: "x", method: c.method, params: c.params})
			v.run(root, RunOptions{})
			v.wantStatus("x", c.status)
			if n := v.cat.executions["x"]; n != c.runs {
				t.Fatalf("executed %d times, want %d", n, c.runs)
			}
		})
	}
}

// TestRetryOperatorDefault: Config.Retry applies to tasks that set no policy.
func TestRetryOperatorDefault(t *testing.T) {
	t.Parallel()
	two, one, zero := 2, int64(1), 0.0
	v := setup(t, withRetry(retry.Spec{MaxAttempts: &two, InitialMS: &one, MaxMS: &one, Jitter: &zero}))
	root := v.create(spec{id: "x", params: map[string]any{"fail_times": 1}})
	v.run(root, RunOptions{})
	if x := v.wantStatus("x", task.Completed); len(x.Retry.History) != 2 {
		t.Fatalf("history = %+v, want 2 attempts", x.Retry.History)
	}
}

// waitingSpec is a task whose first attempt fails and waits an hour for the second.
func waitingSpec(id string) spec {
	return spec{id: id, params: map[string]any{"fail_times": 1,
		"retry": map[string]any{"max_attempts": 2, "backoff": map[string]any{"initial_ms": 3600000, "jitter": 0, "max_ms": 3600000}}}}
}

// TestRetryWaitIsVisibleAndCancellable: while a task waits for its retry it is pending
// with its next attempt's time and the failed attempt in its history, holds no slot
// (another task runs meanwhile), and a cancel ends the wait: no further attempt.
func TestRetryWaitIsVisibleAndCancellable(t *testing.T) {
	t.Parallel()
	v := setup(t, withConcurrency(1))
	root := v.create(spec{id: "r", method: "aggregate_results_executor", deps: req("w", "other")},
		waitingSpec("w"), spec{id: "other", priority: prio(3)})
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "w to wait for its retry", func() bool { return v.get("w").WaitingRetry() })
	w := v.get("w")
	if w.Status != task.Pending || w.Error != "" || len(w.Retry.History) != 1 || w.Retry.History[0].Error != "flaky 1" {
		t.Fatalf("waiting task = %s %q %+v", w.Status, w.Error, w.Retry)
	}
	if d := w.Retry.NextAttemptAt.Sub(w.Retry.History[0].EndedAt); d != time.Hour {
		t.Fatalf("next attempt %v after the failure, want 1h", d)
	}
	waitFor(t, "the other task to run in the freed slot", func() bool { return v.get("other").Status == task.Completed })
	if _, err := v.e.Cancel(context.Background(), "w", "stop"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("run did not end after the waiting task was cancelled")
	}
	if w := v.wantStatus("w", task.Cancelled); len(w.Retry.History) != 1 || v.cat.executions["w"] != 1 {
		t.Fatalf("cancelled task history %+v, executed %d: want the one failed attempt", w.Retry, v.cat.executions["w"])
	}
	if r := v.get("r"); r.Status != task.Pending || !r.Blocked() {
		t.Fatalf("root = %s %q, want blocked by the cancelled dependency", r.Status, r.Error)
	}
}

// TestRetryWaitSurvivesRestart: an engine closed while a task waits for its retry keeps
// the run; the next engine resumes it and continues the countdown (it does not wait the
// whole backoff again), and the attempt history goes on.
func TestRetryWaitSurvivesRestart(t *testing.T) {
	t.Parallel()
	clk := &clock{}
	v := setup(t, withClock(clk))
	// d comes after w, so a resumed run finds w parked when it reaches d.
	root := v.create(spec{id: "r", method: "aggregate_results_executor", deps: req("d")}, waitingSpec("w"),
		spec{id: "d", deps: req("w")})
	if _, err := v.e.Start(context.Background(), root, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "w to wait for its retry", func() bool { return v.get("w").WaitingRetry() })
	if err := <-closeAsync(t, v.e); err != nil {
		t.Fatal(err)
	}
	w := v.get("w")
	if !w.WaitingRetry() || v.get("r").Run == nil {
		t.Fatalf("after Close: w %s %+v, root marker %v: want still waiting, run kept", w.Status, w.Retry, v.get("r").Run)
	}
	// 59 minutes 59.9 seconds of the hour pass while no engine runs.
	clk.mu.Lock()
	clk.offset = time.Until(w.Retry.NextAttemptAt) - 100*time.Millisecond
	clk.mu.Unlock()
	v2, started := resume(t, v.st, withClock(clk))
	if len(started) != 1 {
		t.Fatalf("resumed %v, want the waiting run", started)
	}
	w = v2.wantStatus("w", task.Completed)
	if len(w.Retry.History) != 2 || w.Retry.History[0].Error != "flaky 1" || w.Retry.History[1].Error != "" {
		t.Fatalf("history = %+v, want the failed attempt then the successful one", w.Retry.History)
	}
	if w.Retry.History[1].StartedAt.Before(w.Retry.History[0].EndedAt.Add(time.Hour)) {
		t.Fatalf("second attempt started at %v, before its backoff ended", w.Retry.History[1].StartedAt)
	}
	v2.wantStatus("d", task.Completed)
	v2.wantStatus("r", task.Completed)
}

// TestRerunStartsANewHistory: a re-run of a task that exhausted its attempts gets all of
// them again, with a history of its own.
func TestRerunStartsANewHistory(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "x", params: map[string]any{"fail_times": 9, "retry": quick(2)}})
	v.run(root, RunOptions{})
	v.wantStatus("x", task.Failed)
	v.run(root, RunOptions{})
	x := v.wantStatus("x", task.Failed)
	if len(x.Retry.History) != 2 || x.Retry.History[0].Error != "flaky 1" || x.Attempts != 4 {
		t.Fatalf("after the re-run: history %+v, attempts %d: want its own two attempts of four", x.Retry.History, x.Attempts)
	}
}

// TestCopyHasNoAttempts: a copy of a task that used its attempts starts with none.
func TestCopyHasNoAttempts(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "x", params: map[string]any{"fail_times": 9, "retry": quick(2)}})
	v.run(root, RunOptions{})
	if x := v.wantStatus("x", task.Failed); len(x.Retry.History) != 2 {
		t.Fatalf("history = %+v, want 2 attempts", x.Retry.History)
	}
	copies, err := v.e.Clone(context.Background(), "x", CloneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := copies[0]; c.Retry != nil || c.Attempts != 0 {
		t.Fatalf("copy retry %+v, attempts %d: want none", c.Retry, c.Attempts)
	}
	v.run(copies[0].ID, RunOptions{})
	if c := v.wantStatus(copies[0].ID, task.Failed); len(c.Retry.History) != 2 {
		t.Fatalf("copy's history = %+v, want its own 2 attempts", c.Retry.History)
	}
}

// TestCopyChecksParams: a copy's reset_fields.params is checked like a submission's
// (task.CheckParams), naming the field under reset_fields, every problem in the message.
func TestCopyChecksParams(t *testing.T) {
	t.Parallel()
	v := setup(t)
	v.create(spec{id: "x"})
	_, err := v.e.Clone(context.Background(), "x", CloneOptions{ResetFields: map[string]any{
		"params": map[string]any{"executor_id": 5, "retry": map[string]any{"max_attempts": 0}}}})
	for _, want := range []string{"reset_fields.params.executor_id", "reset_fields.params.retry.max_attempts"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Clone error = %v, want one naming %s", err, want)
		}
	}
}
