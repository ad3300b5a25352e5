package engine

import (
	"sync"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// Event types published to subscribers.
const (
	EventRunStart     = "run_start"     // a run of a tree began
	EventTaskStatus   = "task_status"   // a task changed status (or was marked blocked)
	EventTaskProgress = "task_progress" // a running task reported progress
	EventRunEnd       = "run_end"       // the run ended; always delivered
)

// Event tells subscribers what happened in a run.
type Event struct {
	Type     string      `json:"type"`
	RootID   string      `json:"root_task_id"`
	TaskID   string      `json:"task_id,omitempty"`
	Status   task.Status `json:"status,omitempty"`
	Progress float64     `json:"progress"`
	Error    string      `json:"error,omitempty"`
	Time     time.Time   `json:"timestamp"`
	// Task is a snapshot of the task after the change (nil for run events). Subscribers
	// share it and must not modify it.
	Task *task.Task `json:"task,omitempty"`
	// Result is set on run_end.
	Result *RunResult `json:"result,omitempty"`
}

// subscriberBuffer is the number of events a subscriber may fall behind before it loses
// events (never run_end).
const subscriberBuffer = 1024

type subscriber struct {
	rootID string
	ch     chan Event
}

// broker fans events out to subscribers without ever blocking the publisher.
type broker struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

func newBroker() *broker { return &broker{subs: map[*subscriber]struct{}{}} }

// Subscribe returns the events of the run of rootID ("" = every run) and a function that
// ends the subscription (and closes the channel). Publishing never blocks: a subscriber
// that falls behind by more than its buffer loses its oldest events, but the final
// run_end of a run is always delivered.
func (e *Engine) Subscribe(rootID string) (<-chan Event, func()) {
	s := &subscriber{rootID: rootID, ch: make(chan Event, subscriberBuffer)}
	b := e.events
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, s)
			close(s.ch)
			b.mu.Unlock()
		})
	}
}

// active reports whether anyone listens, so publishers can skip building events.
func (b *broker) active() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs) > 0
}

func (b *broker) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.rootID != "" && s.rootID != ev.RootID {
			continue
		}
		select {
		case s.ch <- ev:
			continue
		default:
		}
		if ev.Type != EventRunEnd {
			continue // a slow subscriber loses this event
		}
		// Make room for run_end by dropping the oldest event. Only publishers send, under
		// b.mu, so after one receive there is room.
		select {
		case <-s.ch:
		default:
		}
		select {
		case s.ch <- ev:
		default:
		}
	}
}

func (b *broker) publishRun(kind, rootID string, now time.Time, res *RunResult) {
	if !b.active() {
		return
	}
	ev := Event{Type: kind, RootID: rootID, Time: now, Result: res}
	if res != nil {
		ev.Status = res.Status
		if res.Err != nil {
			ev.Error = res.Err.Error()
		}
	}
	b.publish(ev)
}

func (b *broker) publishTask(rootID string, t *task.Task) {
	if !b.active() {
		return
	}
	b.publish(Event{Type: EventTaskStatus, RootID: rootID, TaskID: t.ID, Status: t.Status,
		Progress: t.Progress, Error: t.Error, Time: t.UpdatedAt, Task: t})
}
