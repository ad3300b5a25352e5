package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Event types published to subscribers.
const (
	EventRunStart     = "run_start"     // a run of a tree began
	EventTaskStatus   = "task_status"   // a task changed status (or was marked blocked)
	EventTaskProgress = "task_progress" // a running task reported progress
	EventRunEnd       = "run_end"       // the run ended; always delivered to its subscribers
	EventTaskLog      = "task_log"      // log lines of a task were stored (Event.Logs)
	// EventLost tells one subscriber that it fell behind and lost Event.Lost events
	// before this one (never run_end): what it shows of the run may be stale, and the
	// store has the state. It reaches every subscriber that lost events, whatever types
	// it asked for.
	EventLost = "events_lost"
)

// eventTypes are the Event* constants, the types Subscribe accepts.
var eventTypes = []string{EventRunStart, EventTaskStatus, EventTaskProgress, EventRunEnd, EventTaskLog}

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
	// Logs are the lines of a task_log event, as stored (Seq set). Shared: read only.
	Logs []store.LogLine `json:"logs,omitempty"`
	// Lost is how many events an events_lost event says its subscriber lost.
	Lost int `json:"lost,omitempty"`
}

// subscriberBuffer is the number of events a subscriber may fall behind before it loses
// events (never run_end), which an events_lost event then counts.
const subscriberBuffer = 1024

type subscriber struct {
	rootID string
	types  []string // the event types it receives; nil for all
	ch     chan Event
	lost   int // events lost since the last events_lost it got; guarded by broker.mu
}

// send gives ev to s without blocking, telling it first of the events it lost (EventLost)
// when there is room for both; an event that finds no room is lost, and counted. Only
// publishers send, under broker.mu.
func (s *subscriber) send(ev Event) {
	if len(s.ch)+1+min(s.lost, 1) > cap(s.ch) {
		s.lost++
		return
	}
	s.tellLost(ev.Time)
	s.ch <- ev
}

// sendEnd gives run_end to s, which must have it: the oldest events held are dropped,
// and counted as lost, to make room for it and for the events_lost before it; a run_end
// held (another run's, for a subscriber to every run) is kept and sent again first.
func (s *subscriber) sendEnd(ev Event) {
	var ends []Event
	for len(s.ch) > 0 && len(s.ch)+1+len(ends)+min(s.lost, 1) > cap(s.ch) {
		select {
		case old := <-s.ch:
			switch {
			case old.Type == EventRunEnd:
				ends = append(ends, old)
			default:
				s.lost += max(old.Lost, 1) // an events_lost dropped counts what it told
			}
		default:
		}
	}
	s.tellLost(ev.Time)
	for _, end := range append(ends, ev) {
		select {
		case s.ch <- end:
		default: // a buffer of nothing but other runs' ends: cannot be
		}
	}
}

// tellLost sends s the events_lost of what it lost, if anything; there is room.
func (s *subscriber) tellLost(at time.Time) {
	if s.lost > 0 {
		s.ch <- Event{Type: EventLost, RootID: s.rootID, Time: at, Lost: s.lost}
		s.lost = 0
	}
}

// wants reports whether s receives events of type typ.
func (s *subscriber) wants(typ string) bool {
	return s.types == nil || slices.Contains(s.types, typ)
}

// broker fans events out to subscribers without ever blocking the publisher.
type broker struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
	// out, in cluster mode, takes the events of runs other nodes follow (relay).
	out *relay
	// ended, in cluster mode, holds by run and task the last attempt whose end was
	// delivered, so a start or progress of that attempt arriving later from another
	// node is dropped. Kept only for runs with a subscriber here (every run, while a
	// subscriber of every run lives); cleared when the run starts again, and when its
	// last subscriber leaves.
	ended map[string]map[string]int
}

func newBroker() *broker { return &broker{subs: map[*subscriber]struct{}{}} }

// Subscribe returns the events of the run of rootID ("" = every run) of the given types
// (none: every type) and a function that ends the subscription (and closes the
// channel). Publishing never blocks: a subscriber that falls behind by more than its
// buffer loses the events that find it full, and once it has room again gets an
// events_lost event (EventLost) counting them before the next one; the final run_end of
// a run is always delivered (to a subscriber of run_end), making room by dropping the
// oldest event held. Events nobody subscribed to are not built: a subscriber that
// only waits for run_end spares the engine a task snapshot per status change and
// progress report (on a single node: in cluster mode every type is built while anyone
// listens). types are the Event* constants: Subscribe panics on another name, which
// would never be published (a misspelt type would otherwise wait forever).
//
// In cluster mode a subscription to one run receives its events from every node (the
// coordinator's status changes, the starts and progress of the tasks other nodes
// execute), from the moment Subscribe returns, give or take the time other nodes take to
// learn of it (a notice; at most a few seconds). A subscription to every run ("") makes
// no other node send anything: it receives this node's events, and those other nodes
// send here for the runs another subscription of this node follows.
func (e *Engine) Subscribe(rootID string, types ...string) (<-chan Event, func()) {
	for _, typ := range types {
		if !slices.Contains(eventTypes, typ) {
			panic(fmt.Sprintf("engine: Subscribe: unknown event type %q (want one of %s)", typ, strings.Join(eventTypes, ", ")))
		}
	}
	s := &subscriber{rootID: rootID, ch: make(chan Event, subscriberBuffer)}
	if len(types) > 0 {
		s.types = slices.Clone(types)
	}
	b := e.events
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	remote := b.out != nil && rootID != ""
	if remote {
		b.out.follow(rootID)
	}
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, s)
			close(s.ch)
			if !b.followedLocked(rootID) {
				delete(b.ended, rootID)
			}
			if len(b.subs) == 0 {
				b.ended = nil
			}
			b.mu.Unlock()
			if remote {
				b.out.unfollow(rootID)
			}
		})
	}
}

// wants reports whether anyone listens to events of type typ, here or on another node
// (which receive every type), so publishers can skip building events.
//
// In cluster mode every type is built while anyone listens: the bookkeeping that drops
// a late event of another node (stale) learns from run and status events.
func (b *broker) wants(typ string) bool {
	b.mu.Lock()
	want := b.out != nil && len(b.subs) > 0
	for s := range b.subs {
		if want || s.wants(typ) {
			want = true
			break
		}
	}
	b.mu.Unlock()
	return want || (b.out != nil && b.out.any())
}

// publish delivers an event of this node to its subscribers and to the nodes that
// follow its run.
func (b *broker) publish(ev Event) {
	b.deliver(ev)
	if b.out != nil && b.out.wanted(ev.RootID) {
		b.out.send(ev)
	}
}

// deliver gives ev to this node's subscribers.
func (b *broker) deliver(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.out != nil && b.stale(ev) {
		return
	}
	for s := range b.subs {
		if (s.rootID != "" && s.rootID != ev.RootID) || !s.wants(ev.Type) {
			continue
		}
		if ev.Type == EventRunEnd {
			s.sendEnd(ev)
		} else {
			s.send(ev)
		}
	}
}

func (b *broker) publishRun(kind, rootID string, now time.Time, res *RunResult) {
	if !b.wants(kind) {
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
	if !b.wants(EventTaskStatus) {
		return
	}
	b.publish(Event{Type: EventTaskStatus, RootID: rootID, TaskID: t.ID, Status: t.Status,
		Progress: t.Progress, Error: t.Error, Time: t.UpdatedAt, Task: t})
}

// stale reports whether ev is the start or progress of a task attempt whose end was
// delivered already (it came late from another node), and keeps b.ended: from a run's
// start until its followers leave, so that what comes late after run_end, while
// followers wait for other nodes' last log lines, is dropped too. b.mu is held.
func (b *broker) stale(ev Event) bool {
	switch {
	case ev.Type == EventRunStart:
		delete(b.ended, ev.RootID)
		return false
	case ev.Type == EventRunEnd:
		return false
	case ev.Task == nil || !b.followedLocked(ev.RootID):
		return false
	}
	tasks := b.ended[ev.RootID]
	if ev.Type == EventTaskStatus && ev.Status.Terminal() {
		if tasks == nil {
			if b.ended == nil {
				b.ended = map[string]map[string]int{}
			}
			tasks = map[string]int{}
			b.ended[ev.RootID] = tasks
		}
		tasks[ev.TaskID] = max(tasks[ev.TaskID], ev.Task.Attempts)
		return false
	}
	last, ok := tasks[ev.TaskID]
	return ok && ev.Task.Attempts <= last
}

// followedLocked reports whether a subscriber here receives the events of rootID.
func (b *broker) followedLocked(rootID string) bool {
	for s := range b.subs {
		if s.rootID == "" || s.rootID == rootID {
			return true
		}
	}
	return false
}
