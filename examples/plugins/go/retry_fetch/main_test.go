package main

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/sdk/go/apflowtest"
)

// flaky answers 503 to its first `failures` requests, then 200 "ok".
func flaky(failures int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if failures > 0 {
			failures--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}
}

func TestRetryFetch(t *testing.T) {
	t.Parallel()
	ms := func(v ...int64) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	tests := []struct {
		name     string
		failures int
		clock    bool
		deadline time.Duration
		cancel   bool
		want     string // the result, or the error code
		sleeps   []time.Duration
	}{
		{name: "first try", failures: 0, clock: true, want: `{"status":200,"body":"ok","attempts":1}`},
		{name: "after two failures", failures: 2, clock: true,
			want: `{"status":200,"body":"ok","attempts":3}`, sleeps: ms(200, 400)},
		{name: "gives up", failures: 9, clock: true, want: "unavailable", sleeps: ms(200, 400, 800)},
		{name: "deadline during a wait", failures: 9, clock: true, deadline: 500 * time.Millisecond,
			want: "deadline_exceeded", sleeps: ms(200, 300)},
		{name: "cancelled", failures: 9, clock: true, cancel: true, want: "cancelled", sleeps: ms(0)},
		{name: "no clock grant", failures: 9, want: "sleep_refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := apflowtest.New(t)
			h.Host.HTTP = flaky(tt.failures)
			h.Host.Clock, h.Host.Deadline = tt.clock, tt.deadline
			if tt.cancel {
				h.Host.Cancel()
			}
			res := h.Execute(map[string]any{"url": "http://api.test/x"})
			got := res.String()
			if res.Failed() {
				got = res.Code()
			}
			if got != tt.want {
				t.Fatalf("result = %s, want %s", res.Raw, tt.want)
			}
			if s := h.Host.Sleeps(); !reflect.DeepEqual(s, tt.sleeps) {
				t.Fatalf("sleeps = %v, want %v", s, tt.sleeps)
			}
		})
	}
}
