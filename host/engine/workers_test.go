package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkers(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, idle time.Duration) (*workers, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		w := newWorkers(ctx)
		w.wait = idle
		return w, cancel
	}
	// waitFor waits until count is n.
	waitFor := func(t *testing.T, what string, count *atomic.Int64, n int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count.Load() != n {
			if time.Now().After(deadline) {
				t.Fatalf("%d workers %s, want %d", count.Load(), what, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitLive := func(t *testing.T, w *workers, n int64) { t.Helper(); waitFor(t, "alive", &w.live, n) }
	for _, c := range []struct {
		name string
		test func(t *testing.T)
	}{
		{"one after the other: the idle worker takes the next", func(t *testing.T) {
			w, _ := setup(t, time.Hour)
			for range 100 {
				done := make(chan struct{})
				w.run(func() { close(done) })
				<-done
				// A worker counts as idle just before it waits: the next task may still
				// find none waiting, now and then, and start another.
				waitFor(t, "idle", &w.idle, w.live.Load())
			}
			if n := w.live.Load(); n > 10 {
				t.Fatalf("%d workers for 100 tasks one after the other, want a few", n)
			}
		}},
		{"at once: one worker each, every task run", func(t *testing.T) {
			w, _ := setup(t, time.Hour)
			release := make(chan struct{})
			var wg sync.WaitGroup
			for range 10 {
				wg.Add(1)
				w.run(func() { <-release; wg.Done() })
			}
			waitLive(t, w, 10)
			close(release)
			wg.Wait()
		}},
		{"idle workers end", func(t *testing.T) {
			w, _ := setup(t, 10*time.Millisecond)
			done := make(chan struct{})
			w.run(func() { close(done) })
			<-done
			waitLive(t, w, 0)
		}},
		{"workers end with ctx, after their task", func(t *testing.T) {
			w, cancel := setup(t, time.Hour)
			release, ran := make(chan struct{}), make(chan struct{})
			w.run(func() { <-release; close(ran) })
			w.run(func() {})
			waitLive(t, w, 2)
			waitFor(t, "idle", &w.idle, 1)
			cancel()
			waitLive(t, w, 1) // the idle one
			close(release)
			<-ran
			waitLive(t, w, 0)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t)
		})
	}
}
