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
