package api

import (
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
)

// TestFollowEndsWhenKeepAliveFails checks that a follower whose keepalive can no longer
// be written (the stream broke without its request context ending) stops following
// instead of holding its goroutine until the run's next event.
func TestFollowEndsWhenKeepAliveFails(t *testing.T) {
	t.Parallel()
	s := &Server{cfg: Config{KeepAlive: time.Millisecond}, closing: make(chan struct{})}
	events := make(chan engine.Event) // no event ever comes
	done := make(chan struct{})       // the run never ends
	got := make(chan followEnd, 1)
	go func() {
		got <- s.followRun(follower{rootID: "r", events: events, done: done,
			emit:      func(map[string]any) bool { return true },
			keepAlive: func() bool { return false }})
	}()
	select {
	case end := <-got:
		if end != followerLeft {
			t.Fatalf("followRun = %v, want followerLeft", end)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("followRun still following after its keepalive failed")
	}
}
