package engine

import (
	"sync"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestObserveExecutors: every executor call is reported with its executor and a
// duration, a failed call and each attempt of a retried task included; after stop, no
// call is, and another observer still is.
func TestObserveExecutors(t *testing.T) {
	t.Parallel()
	v := setup(t)
	var mu sync.Mutex
	calls := map[string]int{}
	observe := func(into map[string]int) func(string, float64) {
		return func(executor string, seconds float64) {
			mu.Lock()
			defer mu.Unlock()
			if seconds < 0 {
				t.Errorf("%s: a call of %v s", executor, seconds)
			}
			into[executor]++
		}
	}
	stop := v.e.ObserveExecutors(observe(calls))
	root := v.create(spec{id: "root"}, spec{id: "ok", parent: "root"},
		spec{id: "bad", parent: "root", params: map[string]any{"fail": "boom"}},
		spec{id: "flaky", parent: "root", params: map[string]any{"fail_times": 2, "retry": quick(3)}},
		spec{id: "nop", parent: "root", method: "noop"})
	v.run(root, RunOptions{})
	mu.Lock()
	if calls["fake"] != 6 || calls["noop"] != 1 { // root, ok, bad, flaky three times; nop
		t.Errorf("calls observed: %v, want fake 6 and noop 1", calls)
	}
	mu.Unlock()
	stop()
	other := map[string]int{}
	stopOther := v.e.ObserveExecutors(observe(other))
	defer stopOther()
	v.run(v.create(spec{id: "again"}), RunOptions{})
	mu.Lock()
	defer mu.Unlock()
	if calls["fake"] != 6 || other["fake"] != 1 {
		t.Errorf("after stop: %v; the other observer: %v; want 6 and 1", calls, other)
	}
	if st := v.get("flaky").Status; st != task.Completed {
		t.Errorf("flaky ended %s", st)
	}
}
