package api

import (
	"context"
	"time"

	"github.com/apflow-wasm/apflow/host/engine"
)

// runEndGrace is how long a follower waits for run_end once the run's Done is closed. The
// engine publishes run_end right after Done, behind the task events queued before it, so
// waiting lets those go out first; the grace only bounds the wait.
const runEndGrace = 2 * time.Second

// followEnd says why followRun returned.
type followEnd int

const (
	runEnded     followEnd = iota // the run ended: the follower sends its final frame
	followerLeft                  // leave was closed or emit refused a frame
	shuttingDown                  // the server is shutting down (shutdownMessage)
)

// follower is one consumer of a run's events: an SSE stream or a webhook.
type follower struct {
	rootID string
	events <-chan engine.Event
	// done is closed when the run ends. nil when the follower did not start the run
	// (GET /events): then whether the run is still listed is checked every second.
	done <-chan struct{}
	// leave, when closed, stops following (the client went away). May be nil.
	leave <-chan struct{}
	// emit takes the frame of each task event, in order; false stops following.
	emit func(frame map[string]any) bool
	// keepAlive, when set, is called every Config.KeepAlive; false (the stream can no
	// longer be written) stops following.
	keepAlive func() bool
}

// followRun gives f the frames of the run's task events until the run has ended: run_end
// arrived, the channel was closed, run_end did not arrive within runEndGrace of done
// closing, or (done nil) the run is no longer in progress and run_end did not arrive
// within runEndGrace of that. It then gives f the events already queued, so per-task
// frames precede the final one. It returns early when f leaves or refuses a frame, or
// when the server shuts down.
//
// A follower that did not start the run (done nil) may follow it on another node of a
// cluster: a run_end there can be the end of one coordinator's part (it stopped, or lost
// its lease) while another node takes the run over, so run_end ends such a follower only
// once the run is no longer in progress.
func (s *Server) followRun(f follower) followEnd {
	if s.cfg.Cluster != nil {
		// The run this request started may end here only in part (a lost lease) and go
		// on on another node: follow it as a run started elsewhere.
		f.done = nil
	}
	var keep, check <-chan time.Time
	if f.keepAlive != nil {
		t := time.NewTicker(s.cfg.KeepAlive)
		defer t.Stop()
		keep = t.C
	}
	if f.done == nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		check = t.C
	}
	done := f.done
	var grace <-chan time.Time
	warned := false // followedRunGoesOn said once that it cannot tell
	for ended := false; !ended; {
		select {
		case ev, ok := <-f.events:
			switch {
			case !ok:
				ended = true
			case ev.Type == engine.EventRunEnd:
				ended = f.done != nil || !partEnded(ev) && !s.followedRunGoesOn(f.rootID, &warned)
			default:
				if fr := eventFrame(ev, "jsonrpc"); fr != nil && !f.emit(fr) {
					return followerLeft
				}
			}
		case <-done:
			done = nil
			grace = time.After(runEndGrace)
		case <-grace:
			// A follower that did not start the run asks again: a takeover may have been
			// starting when it last looked.
			if ended = f.done != nil || !s.followedRunGoesOn(f.rootID, &warned); !ended {
				grace = nil
			}
		case <-check:
			if grace == nil && !s.followedRunGoesOn(f.rootID, &warned) {
				// The run ended: its last events may still be on their way from
				// another node, behind run_end.
				grace = time.After(runEndGrace)
			}
		case <-keep:
			if !f.keepAlive() {
				return followerLeft
			}
		case <-f.leave:
			return followerLeft
		case <-s.closing:
			return shuttingDown
		}
	}
	// The events already queued go out before the end. In a cluster, those other nodes
	// published before the run ended (the log lines of the tasks they ran) may still be on
	// their way: they get until relayQuiet passes without one, within relayLate.
	var quiet, late <-chan time.Time
	if s.cfg.Cluster != nil {
		late = time.After(relayLate)
	}
	for {
		var ev engine.Event
		var ok bool
		select {
		case ev, ok = <-f.events:
		default:
			if late == nil {
				return runEnded
			}
			if quiet == nil {
				quiet = time.After(relayQuiet)
			}
			select {
			case ev, ok = <-f.events:
			case <-quiet:
				return runEnded
			case <-late:
				return runEnded
			case <-f.leave:
				return followerLeft
			case <-s.closing:
				return shuttingDown
			}
		}
		if !ok {
			return runEnded
		}
		if fr := eventFrame(ev, "jsonrpc"); fr != nil && !f.emit(fr) {
			return followerLeft
		}
		quiet = nil // the quiet period starts again at the next wait
	}
}

// In a cluster, how long a follower waits, once its run has ended, for events other
// nodes relay: until relayQuiet passes without one, within relayLate. Another node's
// events come in its relay's batches, a few tens of milliseconds apart.
const (
	relayQuiet = 300 * time.Millisecond
	relayLate  = 2 * time.Second
)

// followedRunGoesOn asks, within a second, whether the run of rootID is in progress
// (rootRunning, whose warned it takes).
func (s *Server) followedRunGoesOn(rootID string, warned *bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.rootRunning(ctx, rootID, warned)
}

// partEnded reports whether a run_end ends only one coordinator's part of the run: it was
// interrupted (its node stopped) or stopped by an error (a lost lease, the store), and
// the run goes on elsewhere or at the next start.
func partEnded(ev engine.Event) bool {
	return ev.Error != "" || ev.Result != nil && ev.Result.Interrupted
}
