package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/task"
)

// collect reads a subscription until run_end or the deadline.
func collect(t *testing.T, ch <-chan Event) []Event {
	t.Helper()
	var out []Event
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("subscription closed before run_end")
			}
			out = append(out, ev)
			if ev.Type == EventRunEnd {
				return out
			}
		case <-deadline:
			t.Fatalf("no run_end within 30 s; got %d events", len(out))
		}
	}
}

// TestClusterEventsReachFollowersOnEveryNode: a subscriber of a run on any node gets the
// run's events from every node: on a node that does not coordinate the run, every
// task's end and run_end; on the coordinator's node, the starts of tasks other nodes
// execute. No start follows the end of its task. (Starts are best effort: one that
// arrives after its task's end is dropped, so the test asks only that starts arrive.)
func TestClusterEventsReachFollowersOnEveryNode(t *testing.T) {
	t.Parallel()
	vs := nodes(t, 3, withConcurrency(2))
	vs[0].create(wideSpecs(12, 300)...)
	onOther, stopOther := vs[1].e.Subscribe("w")
	defer stopOther()
	onCoord, stopCoord := vs[0].e.Subscribe("w")
	defer stopCoord()
	// Events published before a node learns of a follower are not sent: start once
	// every node knows of both.
	followers := func(v *env) int {
		v.e.m.relay.mu.Lock()
		defer v.e.m.relay.mu.Unlock()
		return len(v.e.m.relay.remote["w"])
	}
	waitFor(t, "every node to know the followers", func() bool {
		return followers(vs[0]) == 1 && followers(vs[1]) == 1 && followers(vs[2]) == 2
	})
	r, err := vs[0].e.Start(t.Context(), "w", RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	started := map[string]map[string]bool{}
	for name, ch := range map[string]<-chan Event{"another node": onOther, "the coordinator's node": onCoord} {
		state := map[string]task.Status{}
		started[name] = map[string]bool{}
		for _, ev := range collect(t, ch) {
			if ev.Type != EventTaskStatus {
				continue
			}
			if ev.Status == task.InProgress {
				started[name][ev.TaskID] = true
				if state[ev.TaskID].Terminal() {
					t.Errorf("%s: %s started after it %s", name, ev.TaskID, state[ev.TaskID])
				}
			}
			state[ev.TaskID] = ev.Status
		}
		for i := range 12 {
			if id := fmt.Sprintf("w-%03d", i); state[id] != task.Completed {
				t.Errorf("%s: %s last seen %q, want completed", name, id, state[id])
			}
		}
		if state["w"] != task.Completed {
			t.Errorf("%s: the root last seen %q", name, state["w"])
		}
	}
	<-r.Done()
	relayed := 0
	for _, v := range vs[1:] {
		v.cat.mu.Lock()
		for _, id := range v.cat.order {
			if started["the coordinator's node"][id] {
				relayed++
			}
		}
		v.cat.mu.Unlock()
	}
	if relayed == 0 {
		t.Fatal("the coordinator's node saw no start of a task another node executed")
	}
}

// TestBrokerDropsLateStarts: in cluster mode, a start or progress of a task attempt that
// arrives after the attempt's end (from another node) is not delivered; the next
// attempt's start is.
func TestBrokerDropsLateStarts(t *testing.T) {
	b := newBroker()
	b.out = &relay{}
	e := &Engine{events: b}
	ch, stop := e.Subscribe("") // every run: stays on this node
	defer stop()
	at := func(s task.Status, attempts int) *task.Task {
		return &task.Task{ID: "x", Status: s, Attempts: attempts}
	}
	for _, ev := range []Event{
		{Type: EventRunStart, RootID: "r"},
		{Type: EventTaskStatus, RootID: "r", TaskID: "x", Status: task.Failed, Task: at(task.Failed, 1)},
		{Type: EventTaskStatus, RootID: "r", TaskID: "x", Status: task.InProgress, Task: at(task.InProgress, 1)},
		{Type: EventTaskProgress, RootID: "r", TaskID: "x", Status: task.InProgress, Task: at(task.InProgress, 1)},
		{Type: EventTaskStatus, RootID: "r", TaskID: "x", Status: task.InProgress, Task: at(task.InProgress, 2)},
		{Type: EventTaskStatus, RootID: "r", TaskID: "x", Status: task.Completed, Task: at(task.Completed, 2)},
		{Type: EventRunEnd, RootID: "r"},
		// Late after the run's end, while followers wait for other nodes' last lines.
		{Type: EventTaskProgress, RootID: "r", TaskID: "x", Status: task.InProgress, Task: at(task.InProgress, 2)},
		// A new run of the tree starts afresh.
		{Type: EventRunStart, RootID: "r"},
		{Type: EventTaskStatus, RootID: "r", TaskID: "x", Status: task.InProgress, Task: at(task.InProgress, 1)},
	} {
		b.deliver(ev)
	}
	var got []string
	for len(ch) > 0 {
		ev := <-ch
		got = append(got, fmt.Sprintf("%s/%s", ev.Type, ev.Status))
	}
	want := []string{"run_start/", "task_status/failed", "task_status/in_progress", "task_status/completed", "run_end/",
		"run_start/", "task_status/in_progress"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

// inboxDriver is a cluster.Driver whose inbox answers are scripted; only ReceiveEvents
// is implemented.
type inboxDriver struct {
	cluster.Driver
	answers []inboxAnswer
	done    [][]int64 // the acknowledgements of each call
}

type inboxAnswer struct {
	events []cluster.Inbound
	err    error
}

func (d *inboxDriver) ReceiveEvents(_ context.Context, done []int64) ([]cluster.Inbound, error) {
	d.done = append(d.done, append([]int64{}, done...))
	a := d.answers[0]
	d.answers = d.answers[1:]
	return a.events, a.err
}

// TestRelayAcknowledgesWhatItPublished: the relay publishes what a receive returns and
// acknowledges it with the next receive; a failed receive publishes nothing and
// acknowledges again what the last one published, so its events come back and none is
// published twice. An event that does not decode is dropped and acknowledged.
func TestRelayAcknowledgesWhatItPublished(t *testing.T) {
	t.Parallel()
	ev := func(seq int64, task string) cluster.Inbound {
		b, err := json.Marshal(Event{Type: EventTaskStatus, RootID: "r", TaskID: task})
		if err != nil {
			t.Fatal(err)
		}
		return cluster.Inbound{Seq: seq, Body: b}
	}
	d := &inboxDriver{answers: []inboxAnswer{
		{events: []cluster.Inbound{ev(1, "a"), ev(2, "b")}},
		{err: errors.New("connection reset")},
		{events: []cluster.Inbound{ev(3, "c"), {Seq: 4, Body: []byte("{")}}},
		{},
		{},
	}}
	var published []string
	r := newRelay(d, hclog.NewNullLogger(), func(e Event) { published = append(published, e.TaskID) })
	steps := []struct {
		wantPublished []string
		wantAcks      []int64
	}{
		{[]string{"a", "b"}, []int64{1, 2}},
		{[]string{"a", "b"}, []int64{1, 2}},
		{[]string{"a", "b", "c"}, []int64{3, 4}},
		{[]string{"a", "b", "c"}, []int64{}},
		{[]string{"a", "b", "c"}, []int64{}},
	}
	for i, s := range steps {
		r.receive(t.Context())
		if !reflect.DeepEqual(published, s.wantPublished) || !reflect.DeepEqual(append([]int64{}, r.acks...), s.wantAcks) {
			t.Fatalf("after receive %d: published %v, acks %v; want %v, %v", i+1, published, r.acks, s.wantPublished, s.wantAcks)
		}
	}
	want := [][]int64{{}, {1, 2}, {1, 2}, {3, 4}, {}}
	if !reflect.DeepEqual(d.done, want) {
		t.Fatalf("acknowledgements sent %v, want %v", d.done, want)
	}
}
