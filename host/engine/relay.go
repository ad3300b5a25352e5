package engine

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// Timing of the relay. Events are batched for relayBatch before they are sent; the runs
// other nodes follow are re-read every relayRefresh, and the inbox every relayPoll
// while this node follows runs (in case a notice was lost) or has events to acknowledge.
const (
	relayBatch   = 10 * time.Millisecond
	relayRefresh = 2 * time.Second
	relayPoll    = time.Second
	relayBacklog = 64 << 10 // events waiting to be sent before the oldest are dropped
)

// relay carries the events of followed runs between the nodes of a cluster (package
// cluster, "Events"). A subscription to one run (Engine.Subscribe with a root id) is
// recorded in the database, so every node sends this node the events it publishes for
// that run: the coordinator's status changes, the starts and progress of the tasks other
// nodes execute. A subscription to every run ("") is not recorded: no node sends events
// for it.
//
// Delivery is best effort, as on one node: an event published before another node
// learned of a new follower is not sent; events wait in the database for a node that is
// down until it joins again (then they are dropped). A failed database call, a restart
// of the database included, loses nothing between live nodes: a failed send is sent
// again (when its commit was only unconfirmed, its events arrive twice), and an event
// leaves the receiver's inbox only when the receive after the one that published it
// acknowledges it. Only an outage long enough for relayBacklog events to queue up on a
// sender drops its oldest ones (logged). Events of one node arrive in the
// order it published them; the broker drops a task's start or progress that arrives
// after the end of the same attempt (events of two nodes may cross).
type relay struct {
	d   cluster.Driver
	log hclog.Logger
	pub func(Event) // delivers a received event to this node's subscribers

	followMu sync.Mutex // orders the writes of the follow set
	unsaved  bool       // the last write of the follow set failed (under followMu)

	mu     sync.Mutex
	local  map[string]int      // runs this node's subscribers follow, and how many
	remote map[string][]string // runs other nodes follow, and which nodes
	outbox []cluster.Envelope
	acks   []int64 // events received and published, deleted by the next receive (loop only)

	sendWake, recvWake, refreshWake chan struct{}
}

func newRelay(d cluster.Driver, log hclog.Logger, pub func(Event)) *relay {
	return &relay{d: d, log: log, pub: pub, local: map[string]int{}, remote: map[string][]string{},
		sendWake: make(chan struct{}, 1), recvWake: make(chan struct{}, 1), refreshWake: make(chan struct{}, 1)}
}

// follow records one more subscriber of rootID on this node; the database learns of the
// first one before follow returns, so the run's later events reach it from every node.
func (r *relay) follow(rootID string) {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	r.mu.Lock()
	r.local[rootID]++
	first := r.local[rootID] == 1
	r.mu.Unlock()
	if first {
		r.writeFollows()
	}
}

// unfollow ends one subscription of rootID.
func (r *relay) unfollow(rootID string) {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	r.mu.Lock()
	r.local[rootID]--
	last := r.local[rootID] <= 0
	if last {
		delete(r.local, rootID)
	}
	r.mu.Unlock()
	if last {
		r.writeFollows()
	}
}

// writeFollows records this node's follow set (followMu held). A failure is logged and
// the write retried at the next refresh: until then other nodes send what they sent
// before.
func (r *relay) writeFollows() {
	r.mu.Lock()
	roots := slices.Sorted(maps.Keys(r.local))
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), r.d.LeaseInterval()/2)
	defer cancel()
	err := r.d.Follow(ctx, roots)
	if err != nil && !r.unsaved {
		r.log.Warn("recording the runs this node's clients follow failed; retrying", "error", err)
	}
	r.unsaved = err != nil
}

// saveFollows retries a failed write of the follow set.
func (r *relay) saveFollows() {
	r.followMu.Lock()
	defer r.followMu.Unlock()
	if r.unsaved {
		r.writeFollows()
	}
}

// wanted reports whether another node follows rootID.
func (r *relay) wanted(rootID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.remote[rootID]) > 0
}

// any reports whether another node follows any run.
func (r *relay) any() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.remote) > 0
}

// send queues ev for the nodes that follow its run.
func (r *relay) send(ev Event) {
	r.mu.Lock()
	nodes := r.remote[ev.RootID]
	r.mu.Unlock()
	if len(nodes) == 0 {
		return
	}
	body, err := json.Marshal(ev)
	if err != nil {
		r.log.Warn("encoding a run event for other nodes failed", "root", ev.RootID, "task", ev.TaskID, "error", err)
		return
	}
	r.mu.Lock()
	for _, n := range nodes {
		r.outbox = append(r.outbox, cluster.Envelope{NodeID: n, Body: body})
	}
	if over := len(r.outbox) - relayBacklog; over > 0 {
		r.outbox = r.outbox[over:]
		r.log.Warn("run events for other nodes dropped: the database does not keep up", "events", over)
	}
	r.mu.Unlock()
	poke(r.sendWake)
}

// loop sends, receives and refreshes until ctx ends; it then sends what is queued.
func (r *relay) loop(ctx context.Context, done *sync.WaitGroup) {
	defer done.Done()
	r.refresh(ctx)
	refresh := time.NewTicker(relayRefresh)
	defer refresh.Stop()
	poll := time.NewTicker(relayPoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), r.d.LeaseInterval()/2)
			r.flush(fctx)
			cancel()
			return
		case <-r.sendWake:
			select { // let the events of the same moment join the batch
			case <-time.After(relayBatch):
			case <-ctx.Done():
			}
			r.flush(ctx)
		case <-r.recvWake:
			r.receive(ctx)
		case <-poll.C:
			if r.following() || len(r.acks) > 0 {
				r.receive(ctx)
			}
		case <-r.refreshWake:
			r.refresh(ctx)
		case <-refresh.C:
			r.saveFollows()
			r.refresh(ctx)
		}
	}
}

// following reports whether this node's subscribers follow any run.
func (r *relay) following() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.local) > 0
}

// flush sends the queued events in one transaction; on failure they are queued again.
func (r *relay) flush(ctx context.Context) {
	r.mu.Lock()
	batch := r.outbox
	r.outbox = nil
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := r.d.SendEvents(ctx, batch); err != nil {
		r.log.Warn("sending run events to other nodes failed; retrying", "events", len(batch), "error", err)
		r.mu.Lock()
		r.outbox = append(batch, r.outbox...)
		r.mu.Unlock()
		if ctx.Err() == nil {
			time.AfterFunc(relayPoll, func() { poke(r.sendWake) })
		}
	}
}

// receive republishes what other nodes sent to this node, and acknowledges what the
// previous receive republished. A failed receive publishes nothing: its events are
// returned again by the next one.
func (r *relay) receive(ctx context.Context) {
	got, err := r.d.ReceiveEvents(ctx, r.acks)
	if err != nil {
		if ctx.Err() == nil { // not this node closing
			r.log.Warn("receiving run events from other nodes failed", "error", err)
		}
		return
	}
	r.acks = r.acks[:0]
	for _, in := range got {
		r.acks = append(r.acks, in.Seq)
		var ev Event
		if err := json.Unmarshal(in.Body, &ev); err != nil {
			r.log.Warn("a run event from another node does not decode; dropped", "error", err)
			continue
		}
		r.pub(ev)
	}
}

// refresh re-reads which runs other nodes follow.
func (r *relay) refresh(ctx context.Context) {
	f, err := r.d.Followers(ctx)
	if err != nil {
		if ctx.Err() == nil { // not this node closing
			r.log.Warn("reading the runs other nodes follow failed", "error", err)
		}
		return
	}
	r.mu.Lock()
	r.remote = f
	r.mu.Unlock()
}
