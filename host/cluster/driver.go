package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// ErrFenced is matched (errors.Is) by the error of a write whose lease (tree or claim)
// is no longer held with the token the write carries: another node has taken over, and
// the write was not made.
var ErrFenced = errors.New("lease lost: another node holds it now")

// HeldError is the error of AcquireTree for a tree whose lease a live node holds.
type HeldError struct {
	TreeID string
	RootID string // the root of the run holding the lease
	NodeID string
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("tree %s is being run by node %s", e.TreeID, e.NodeID)
}

// Lease is a tree lease held by this node.
type Lease struct {
	TreeID string
	RootID string
	Token  int64
}

// Round is one transaction of a tree's coordinator.
type Round struct {
	// Muts are applied in order, all or nothing (as store.Store.UpdateMany).
	Muts []store.Mutation
	// Enqueue lists tasks to queue for claiming, if they are pending once Muts are
	// applied.
	Enqueue []string
	// Dequeue lists tasks whose queue entry or claim is dropped (they were cancelled);
	// the node executing a claimed one is told (a Notice of kind NoticeCancel).
	Dequeue []string
	// Claim lists tasks the round starts (Muts) and claims for this node at once: the
	// coordinator's node executes them itself, without a trip through the queue. Their
	// tokens are in RoundResult.Tokens; a task not in_progress after Muts is not claimed.
	Claim []string
	// Finished lists the claims (this node's) whose outcome Muts write: the round is
	// fenced by each of them too, and they end with it.
	Finished []ClaimRef
	// Ack lists settled-feed entries (Settled.Seq) the coordinator has settled: they are
	// deleted with the round.
	Ack []int64
}

// ClaimRef names a claim: its task and token.
type ClaimRef struct {
	TaskID string
	Token  int64
}

// RoundResult is what a committed round returns.
type RoundResult struct {
	Tasks  []*task.Task     // the task after each mutation
	Tokens map[string]int64 // the tokens of Round.Claim's claims, by task id
}

// Claim is a task this node claimed: started (in_progress, attempt counted) and leased
// to this node until it finishes, is released, or the lease is lost.
type Claim struct {
	Task   *task.Task // as stored by the start
	RootID string     // root of its tree's run
	Token  int64
}

// Settled is an entry of a tree's settled feed: the task as stored now.
type Settled struct {
	Seq  int64
	Task *task.Task
	// Cancel marks a request to cancel Task with Message (RequestCancel), made through
	// another node under the tree lease of token Token: the coordinator of that run, or
	// of its takeover, cancels it as it cancels on its own node; a later run ignores it.
	Cancel  bool
	Message string
	Token   int64
}

// Lost lists what a heartbeat found this node no longer holds. Each entry carries the
// token it was renewed with: a lease or claim of the same tree or task taken again since
// (a new run, a re-run) is another one and is not lost.
type Lost struct {
	Trees  []LeaseRef
	Claims []ClaimRef
}

// LeaseRef names a tree lease: its tree and token.
type LeaseRef struct {
	TreeID string
	Token  int64
}

// RunGauge is what a node reports with its heartbeat about a run it coordinates under
// the lease Token.
type RunGauge struct {
	TreeID   string
	Token    int64
	Tasks    int64
	Finished int64
}

// RunLease describes a tree lease of any node (Runs).
type RunLease struct {
	TreeID    string
	RootID    string
	NodeID    string
	StartedAt time.Time
	ExpiresAt time.Time
	Tasks     int64
	Finished  int64
	Executing int64 // its tasks claimed now, by any node
}

// Node describes a node of the cluster (Nodes).
type Node struct {
	ID            string
	StartedAt     time.Time
	HeartbeatAt   time.Time
	Version       string
	SchemaVersion int
	Concurrency   int
	Executing     int
	Lease         time.Duration // its lease interval
	Alive         bool          // heartbeat within its lease interval
	Trees         int           // tree leases held
	Claims        int           // tasks claimed
}

// NoticeKind says what a Notice is about.
type NoticeKind uint8

const (
	// NoticeSettled: the tree's settled feed has new entries (ID is the tree id).
	NoticeSettled NoticeKind = iota + 1
	// NoticeQueued: tasks were queued (ID is empty).
	NoticeQueued
	// NoticeCancel: a claimed task was cancelled (ID is the task id).
	NoticeCancel
	// NoticeEvents: run events were sent to a node (ID is that node's id; see
	// ReceiveEvents).
	NoticeEvents
	// NoticeFollows: a node changed the runs it follows (see Followers).
	NoticeFollows
)

// Notice is a hint that something changed. Notices may be lost (a reconnect); every
// consumer also polls, so they only make reactions faster.
type Notice struct {
	Kind NoticeKind
	ID   string
	// Token is the token of the claim a NoticeCancel drops (a later claim of the same
	// task is not cancelled by it).
	Token int64
}

// Driver is a database shared by the nodes of a cluster. Implementations are safe for
// concurrent use. Times (expiry, heartbeats) are the database's clock, so nodes' clocks
// need not agree.
type Driver interface {
	// NodeID names this node in the cluster.
	NodeID() string
	// LeaseInterval is how long a lease lasts without renewal; HeartbeatInterval how
	// often Heartbeat should be called.
	LeaseInterval() time.Duration
	HeartbeatInterval() time.Duration

	// AcquireTree takes the lease of a tree for a run of rootID. It fails with a
	// *HeldError when a live node (this one included) holds it.
	AcquireTree(ctx context.Context, treeID, rootID string) (Lease, error)
	// ReleaseTree gives a lease back and drops the tree's settled feed; releasing a lease
	// no longer held is not an error.
	ReleaseTree(ctx context.Context, l Lease) error
	// CommitRound commits a coordinator's round if l and every claim of r.Finished are
	// still held (else ErrFenced, nothing written).
	CommitRound(ctx context.Context, l Lease, r Round) (RoundResult, error)
	// Queued returns the tasks of a tree that are queued or claimed.
	Queued(ctx context.Context, treeID string) (map[string]bool, error)
	// ReadSettled returns the entries of a tree's settled feed, oldest first. Entries
	// stay until a round acknowledges them (Round.Ack), so an entry is never lost, not
	// even when a response is (a database crash); reading one twice is harmless, since
	// settling is idempotent. An entry whose transaction commits late (seqs are taken at
	// insert, not at commit) is simply read by a later call.
	ReadSettled(ctx context.Context, treeID string) ([]Settled, error)
	// RequestCancel asks the coordinator of a tree to cancel one of its tasks: the
	// request joins the tree's settled feed (Settled.Cancel), with a notice. held is
	// false, and nothing is written, when no live lease holds the tree.
	RequestCancel(ctx context.Context, treeID, taskID, message string) (seq int64, held bool, err error)
	// InFeed reports whether the feed entry seq is still waiting: not yet acknowledged
	// by the coordinator, nor dropped with its lease, and a live lease holds its tree
	// (when none does, nobody will take the request).
	InFeed(ctx context.Context, seq int64) (bool, error)

	// Claim claims up to n queued tasks, highest priority then oldest first, and starts
	// them (task.Task.Start) in the same transaction.
	Claim(ctx context.Context, n int) ([]Claim, error)
	// Finish writes the outcome of a claimed task (fn: a terminal transition, or a failed
	// attempt's wait for its retry, back to pending) if the
	// claim is still held with its token (else ErrFenced), ends the claim and records
	// the task in its tree's settled feed, in one transaction.
	Finish(ctx context.Context, c Claim, fn func(*task.Task) error) (*task.Task, error)
	// UpdateClaimed writes a running task's progress or inputs if the claim is held.
	UpdateClaimed(ctx context.Context, c Claim, fn func(*task.Task) error) (*task.Task, error)
	// Release puts a claimed task back in the queue (pending again, its attempt counted)
	// for any node to claim; used when this node stops.
	Release(ctx context.Context, c Claim) error

	// Heartbeat records that this node is alive, renews the leases of its runs (with
	// their gauges) and the claims of the tasks it executes, each only while it still
	// has the given token, and reports those it no longer holds.
	Heartbeat(ctx context.Context, runs []RunGauge, claimed []ClaimRef) (Lost, error)
	// SweepClaims puts tasks whose claim expired back in the queue (pending again) and
	// returns how many.
	SweepClaims(ctx context.Context) (int, error)
	// Orphans returns the roots of trees whose lease is expired or absent (no live node
	// coordinates them) and that carry a run marker, or hold an in_progress task no
	// claim covers (left by a single-node apflow).
	Orphans(ctx context.Context) ([]*task.Task, error)
	// Runs lists the tree leases of every live node.
	Runs(ctx context.Context) ([]RunLease, error)
	// Nodes lists the nodes that heartbeated recently.
	Nodes(ctx context.Context) ([]Node, error)
	// Leave removes this node's row and drops its tree leases, so that other nodes take
	// its unfinished runs over at their next heartbeat; called last when a node stops,
	// after its claims were finished or released. It stops the notices.
	Leave(ctx context.Context) error

	// Follow replaces the set of runs (root task ids) whose events this node's clients
	// follow, so that other nodes send it those events (SendEvents); every other node
	// is told (NoticeFollows).
	Follow(ctx context.Context, roots []string) error
	// Followers returns, by root task id, the other live nodes that follow the run.
	Followers(ctx context.Context) (map[string][]string, error)
	// SendEvents delivers encoded run events to the inboxes of other nodes, in order,
	// in one transaction, and tells each of them (NoticeEvents).
	SendEvents(ctx context.Context, events []Envelope) error
	// ReceiveEvents deletes from this node's inbox the events done names (the Seq of
	// events an earlier call returned and the caller delivered), then returns what the
	// inbox holds, oldest first, in one transaction. An event stays in the inbox until
	// it is acknowledged that way: one whose response was lost with the connection is
	// returned again, and one acknowledged is never returned again.
	ReceiveEvents(ctx context.Context, done []int64) ([]Inbound, error)

	// Notices delivers hints (see Notice). The channel is closed when the driver is.
	Notices() <-chan Notice
}

// Envelope is an encoded run event on its way to a node's inbox.
type Envelope struct {
	NodeID string
	Body   []byte
}

// Inbound is an encoded run event read from this node's inbox; its Seq acknowledges it
// (Driver.ReceiveEvents).
type Inbound struct {
	Seq  int64
	Body []byte
}
