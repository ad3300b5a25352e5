package engine

import (
	"testing"
)

// TestSubscriberToldOfLostEvents: a subscriber that fell behind its buffer is told how
// many events it lost (events_lost) before the next one it gets, whatever types it asked
// for; one that never fell behind is told nothing.
func TestSubscriberToldOfLostEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		published int // events published before the subscriber reads two
		wantLost  int
	}{
		{"kept up", subscriberBuffer - 5, 0},
		{"fell 76 behind", subscriberBuffer + 76, 76},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker()
			s := &subscriber{rootID: "r", types: []string{EventTaskProgress}, ch: make(chan Event, subscriberBuffer)}
			b.subs[s] = struct{}{}
			for range tc.published {
				b.publish(Event{Type: EventTaskProgress, RootID: "r", TaskID: "t"})
			}
			<-s.ch
			<-s.ch
			b.publish(Event{Type: EventTaskProgress, RootID: "r", TaskID: "next"})
			var got []Event
			for len(s.ch) > 0 {
				got = append(got, <-s.ch)
			}
			last := got[len(got)-1]
			if last.TaskID != "next" {
				t.Fatalf("last event %+v, want the one published last", last)
			}
			lost := 0
			if prev := got[len(got)-2]; prev.Type == EventLost {
				lost = prev.Lost
			}
			if lost != tc.wantLost {
				t.Fatalf("told of %d lost events, want %d", lost, tc.wantLost)
			}
		})
	}
}

// TestRunEndAfterLostEvents: run_end reaches a subscriber that fell behind, after the
// events_lost counting what it lost, the oldest events held among them.
func TestRunEndAfterLostEvents(t *testing.T) {
	t.Parallel()
	b := newBroker()
	s := &subscriber{rootID: "r", ch: make(chan Event, subscriberBuffer)}
	b.subs[s] = struct{}{}
	const published = subscriberBuffer + 50
	for range published {
		b.publish(Event{Type: EventTaskProgress, RootID: "r", TaskID: "t"})
	}
	b.publish(Event{Type: EventRunEnd, RootID: "r"})
	var got []Event
	for len(s.ch) > 0 {
		got = append(got, <-s.ch)
	}
	n := len(got)
	if got[n-1].Type != EventRunEnd || got[n-2].Type != EventLost {
		t.Fatalf("last events %q, %q; want events_lost, then run_end", got[n-2].Type, got[n-1].Type)
	}
	if kept := n - 2; kept+got[n-2].Lost != published {
		t.Fatalf("%d progress events kept and %d told lost, want %d in all", kept, got[n-2].Lost, published)
	}
}

// TestRunEndOfAnotherRunKept: making room for one run's end never drops another run's,
// which a subscriber to every run waits for.
func TestRunEndOfAnotherRunKept(t *testing.T) {
	t.Parallel()
	b := newBroker()
	s := &subscriber{ch: make(chan Event, subscriberBuffer)} // every run
	b.subs[s] = struct{}{}
	b.publish(Event{Type: EventRunEnd, RootID: "a"})
	for range subscriberBuffer + 10 {
		b.publish(Event{Type: EventTaskProgress, RootID: "b", TaskID: "t"})
	}
	b.publish(Event{Type: EventRunEnd, RootID: "b"})
	ends := map[string]bool{}
	for len(s.ch) > 0 {
		if ev := <-s.ch; ev.Type == EventRunEnd {
			ends[ev.RootID] = true
		}
	}
	if !ends["a"] || !ends["b"] {
		t.Fatalf("run ends delivered: %v, want a's and b's", ends)
	}
}
