package apflow_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	apflow "github.com/apflow-wasm/apflow/sdk/go"
	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// TestSleep checks Context.Sleep against the fake host: the duration is rounded up to
// whole milliseconds, and every status of sleep_ms becomes nil or an *Error with its
// code.
func TestSleep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		clock    bool
		deadline time.Duration
		cancel   bool
		d        time.Duration
		code     string // "" for nil
		recorded []time.Duration
	}{
		{name: "slept", clock: true, d: 1500 * time.Microsecond,
			recorded: []time.Duration{2 * time.Millisecond}},
		{name: "zero", clock: true, d: 0, recorded: []time.Duration{0}},
		{name: "not granted", d: time.Second, code: apflow.CodeSleepRefused},
		{name: "negative", clock: true, d: -time.Nanosecond, code: apflow.CodeSleepRefused},
		{name: "absurd", clock: true, d: 24 * time.Hour, code: apflow.CodeSleepRefused},
		{name: "deadline", clock: true, deadline: time.Second, d: time.Minute,
			code: apflow.CodeDeadline, recorded: []time.Duration{time.Second}},
		{name: "cancelled", clock: true, cancel: true, d: time.Minute,
			code: apflow.CodeCancelled, recorded: []time.Duration{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			host := &apflowtest.Host{Clock: tt.clock, Deadline: tt.deadline}
			if tt.cancel {
				host.Cancel()
			}
			err := apflow.NewContext(host).Sleep(tt.d)
			var e *apflow.Error
			switch {
			case tt.code == "" && err != nil:
				t.Fatalf("Sleep = %v, want nil", err)
			case tt.code != "" && (!errors.As(err, &e) || e.Code != tt.code):
				t.Fatalf("Sleep = %#v, want an *Error with code %s", err, tt.code)
			}
			if got := host.Sleeps(); !reflect.DeepEqual(got, tt.recorded) {
				t.Fatalf("sleeps = %v, want %v", got, tt.recorded)
			}
		})
	}
}
