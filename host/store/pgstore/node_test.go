package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// join makes a node of s, leaving when t ends.
func join(t *testing.T, s *Store, id string, lease time.Duration) *Node {
	t.Helper()
	n, err := Join(t.Context(), s, NodeOptions{ID: id, Lease: lease, Heartbeat: lease / 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Leave(context.Background()) })
	return n
}

// clusterSetup returns two nodes, a and b, on two stores of one fresh database.
func clusterSetup(t *testing.T, lease time.Duration) (sa *Store, a, b *Node) {
	t.Helper()
	sa, dsn := setup(t, Options{})
	sb := open(t, Options{DSN: dsn})
	return sa, join(t, sa, "a", lease), join(t, sb, "b", lease)
}

// queue leases tree "tree" to n and queues the given tasks.
func queue(t *testing.T, n *Node, ids ...string) cluster.Lease {
	t.Helper()
	l, err := n.AcquireTree(t.Context(), "tree", "root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.CommitRound(t.Context(), l, cluster.Round{Enqueue: ids, Muts: touch(ids...)}); err != nil {
		t.Fatal(err)
	}
	return l
}

// touch returns mutations that change nothing.
func touch(ids ...string) []store.Mutation {
	out := make([]store.Mutation, len(ids))
	for i, id := range ids {
		out[i] = store.Mutation{ID: id, Fn: func(*task.Task) error { return nil }}
	}
	return out
}

func TestTreeLeaseIsExclusiveAndFencesRounds(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, time.Second)
	create(t, sa, mk("root", "", 0))
	la, err := a.AcquireTree(t.Context(), "tree", "root")
	if err != nil {
		t.Fatal(err)
	}
	var held *cluster.HeldError
	if _, err := b.AcquireTree(t.Context(), "tree", "root"); !errors.As(err, &held) || held.NodeID != "a" {
		t.Fatalf("b acquired a held lease: %v", err)
	}
	time.Sleep(1200 * time.Millisecond) // a's lease expires without a heartbeat
	lb, err := b.AcquireTree(t.Context(), "tree", "root")
	if err != nil {
		t.Fatalf("b cannot take an expired lease over: %v", err)
	}
	if lb.Token <= la.Token {
		t.Fatalf("takeover token %d not above %d", lb.Token, la.Token)
	}
	if _, err := a.CommitRound(t.Context(), la, cluster.Round{Muts: touch("root")}); !errors.Is(err, cluster.ErrFenced) {
		t.Fatalf("a's round after the takeover: %v, want ErrFenced", err)
	}
	if _, err := b.CommitRound(t.Context(), lb, cluster.Round{Muts: touch("root")}); err != nil {
		t.Fatalf("b's round: %v", err)
	}
	lost, err := a.Heartbeat(t.Context(), []cluster.RunGauge{{TreeID: "tree", Token: la.Token}}, nil)
	if err != nil || len(lost.Trees) != 1 || lost.Trees[0] != (cluster.LeaseRef{TreeID: "tree", Token: la.Token}) {
		t.Fatalf("a's heartbeat reports lost %v, %v; want the tree", lost, err)
	}
}

// TestClaimsFollowPriorityThenSubmissionOrder: claims are taken in priority order, then
// seq, across the whole database; a claim starts its task.
func TestClaimsFollowPriorityThenSubmissionOrder(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, 5*time.Second)
	low, urgent := mk("low", "root", 1), mk("urgent", "root", 3)
	low.Priority, urgent.Priority = 3, 0
	create(t, sa, mk("root", "", 0), low, mk("mid1", "root", 2), urgent, mk("mid2", "root", 4))
	queue(t, a, "low", "mid1", "urgent", "mid2")
	var got []string
	for _, n := range []*Node{b, a, b, a} {
		cs, err := n.Claim(t.Context(), 1)
		if err != nil || len(cs) != 1 {
			t.Fatalf("claim: %v %v", cs, err)
		}
		if cs[0].Task.Status != task.InProgress || cs[0].Task.Attempts != 1 {
			t.Fatalf("claimed %s is %s after %d attempts", cs[0].Task.ID, cs[0].Task.Status, cs[0].Task.Attempts)
		}
		got = append(got, cs[0].Task.ID)
	}
	want := []string{"urgent", "mid1", "mid2", "low"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("claim order %v, want %v", got, want)
		}
	}
	if cs, err := a.Claim(t.Context(), 10); err != nil || len(cs) != 0 {
		t.Fatalf("claimed %d more, %v; the queue is empty", len(cs), err)
	}
}

// TestExpiredClaimIsFencedOut: a node that held a claim past its lease (paused) cannot
// write the outcome once the task was swept and claimed again; the new holder can, once.
func TestExpiredClaimIsFencedOut(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, time.Second)
	create(t, sa, mk("root", "", 0), mk("x", "root", 1))
	l := queue(t, a, "x")
	ca, err := a.Claim(t.Context(), 1)
	if err != nil || len(ca) != 1 {
		t.Fatal(ca, err)
	}
	time.Sleep(1200 * time.Millisecond) // a is "paused": no heartbeat
	if n, err := b.SweepClaims(t.Context()); err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	if x, _ := sa.Get(t.Context(), "x"); x.Status != task.Pending {
		t.Fatalf("swept task is %s, want pending", x.Status)
	}
	cb, err := b.Claim(t.Context(), 1)
	if err != nil || len(cb) != 1 || cb[0].Task.Attempts != 2 {
		t.Fatalf("b's claim: %v, %v (want attempt 2)", cb, err)
	}
	complete := func(t *task.Task) error { return t.Complete(map[string]any{"by": "?"}, time.Now()) }
	if _, err := a.Finish(t.Context(), ca[0], complete); !errors.Is(err, cluster.ErrFenced) {
		t.Fatalf("a's late outcome: %v, want ErrFenced", err)
	}
	if x, _ := sa.Get(t.Context(), "x"); x.Status != task.InProgress {
		t.Fatalf("a's fenced outcome changed the task: %s", x.Status)
	}
	done, err := b.Finish(t.Context(), cb[0], complete)
	if err != nil || done.Status != task.Completed {
		t.Fatalf("b's outcome: %v, %v", done, err)
	}
	if _, err := b.Finish(t.Context(), cb[0], complete); !errors.Is(err, cluster.ErrFenced) {
		t.Fatalf("a second outcome of one claim: %v, want ErrFenced", err)
	}
	feed, err := a.ReadSettled(t.Context(), "tree")
	if err != nil || len(feed) != 1 || feed[0].Task.ID != "x" || feed[0].Task.Status != task.Completed {
		t.Fatalf("settled feed %v, %v; want x completed once", feed, err)
	}
	if _, err := a.CommitRound(t.Context(), l, cluster.Round{Ack: []int64{feed[0].Seq}}); err != nil {
		t.Fatal(err)
	}
	if again, err := a.ReadSettled(t.Context(), "tree"); err != nil || len(again) != 0 {
		t.Fatalf("the feed gave %v, %v again; it was acknowledged", again, err)
	}
}

// TestDequeueTellsTheExecutingNode: cancelling a claimed task drops its claim and
// notifies; the holder's outcome is then fenced out.
func TestDequeueTellsTheExecutingNode(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, 5*time.Second)
	create(t, sa, mk("root", "", 0), mk("x", "root", 1))
	l := queue(t, a, "x")
	cb, err := b.Claim(t.Context(), 1)
	if err != nil || len(cb) != 1 {
		t.Fatal(cb, err)
	}
	now := time.Now()
	_, err = a.CommitRound(t.Context(), l, cluster.Round{Dequeue: []string{"x"},
		Muts: []store.Mutation{{ID: "x", Fn: func(t *task.Task) error { return t.Cancel("stop", now) }}}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case n := <-b.Notices():
			got = n.Kind == cluster.NoticeCancel && n.ID == "x" && n.Token == cb[0].Token
		case <-deadline:
			t.Fatal("no cancel notice reached the executing node")
		}
	}
	if _, err := b.Finish(t.Context(), cb[0], func(t *task.Task) error { return t.Complete(nil, time.Now()) }); !errors.Is(err, cluster.ErrFenced) {
		t.Fatalf("outcome of a cancelled claim: %v, want ErrFenced", err)
	}
}

// TestHeartbeatRenewsByToken: a heartbeat that still names a lease or claim this node
// has since given up and taken again (a new run of the tree, a new claim of the task)
// reports the old one lost, under its old token, and renews the new one only; so a
// heartbeat racing with the end of a run cannot stop the run that followed.
func TestHeartbeatRenewsByToken(t *testing.T) {
	t.Parallel()
	sa, a, _ := clusterSetup(t, 5*time.Second)
	create(t, sa, mk("root", "", 0), mk("x", "root", 1))
	l1 := queue(t, a, "x")
	c1, err := a.Claim(t.Context(), 1)
	if err != nil || len(c1) != 1 {
		t.Fatal(c1, err)
	}
	if err := a.Release(t.Context(), c1[0]); err != nil {
		t.Fatal(err)
	}
	c2, err := a.Claim(t.Context(), 1)
	if err != nil || len(c2) != 1 {
		t.Fatal(c2, err)
	}
	if err := a.ReleaseTree(t.Context(), l1); err != nil {
		t.Fatal(err)
	}
	l2, err := a.AcquireTree(t.Context(), "tree", "root")
	if err != nil {
		t.Fatal(err)
	}
	old := []cluster.ClaimRef{{TaskID: "x", Token: c1[0].Token}}
	lost, err := a.Heartbeat(t.Context(), []cluster.RunGauge{{TreeID: "tree", Token: l1.Token}}, old)
	if err != nil {
		t.Fatal(err)
	}
	want := cluster.Lost{Trees: []cluster.LeaseRef{{TreeID: "tree", Token: l1.Token}}, Claims: old}
	if !reflect.DeepEqual(lost, want) {
		t.Fatalf("heartbeat with the old tokens reports lost %+v, want %+v", lost, want)
	}
	cur := []cluster.ClaimRef{{TaskID: "x", Token: c2[0].Token}}
	lost, err = a.Heartbeat(t.Context(), []cluster.RunGauge{{TreeID: "tree", Token: l2.Token}}, cur)
	if err != nil || len(lost.Trees)+len(lost.Claims) != 0 {
		t.Fatalf("heartbeat with the current tokens reports lost %+v, %v", lost, err)
	}
}

// TestStaleReleaseKeepsTheNewOwnersFeed: a node releasing a lease it lost (it was
// paused past it and another node took the tree over) drops neither the lease nor the
// new coordinator's settled feed.
func TestStaleReleaseKeepsTheNewOwnersFeed(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, time.Second)
	create(t, sa, mk("root", "", 0), mk("x", "root", 1))
	la, err := a.AcquireTree(t.Context(), "tree", "root")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	lb, err := b.AcquireTree(t.Context(), "tree", "root")
	if err != nil {
		t.Fatal(err)
	}
	if _, held, err := a.RequestCancel(t.Context(), "tree", "x", "stop"); err != nil || !held {
		t.Fatalf("cancel request: held %v, %v", held, err)
	}
	if err := a.ReleaseTree(t.Context(), la); err != nil {
		t.Fatal(err)
	}
	if feed, err := b.ReadSettled(t.Context(), "tree"); err != nil || len(feed) != 1 {
		t.Fatalf("the new owner's feed after a stale release: %v, %v; want x", feed, err)
	}
	if _, err := b.CommitRound(t.Context(), lb, cluster.Round{Muts: touch("root")}); err != nil {
		t.Fatalf("the new owner lost its lease to a stale release: %v", err)
	}
}

// TestCancelRequestsGoToTheLeaseHolder: a cancel request joins the feed of a tree
// whose lease is held, marked as a request with its message, with a notice, and stays
// until acknowledged; a tree without a live lease gets no request.
func TestCancelRequestsGoToTheLeaseHolder(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, 5*time.Second)
	create(t, sa, mk("root", "", 0), mk("x", "root", 1))
	if _, held, err := b.RequestCancel(t.Context(), "tree", "x", "stop"); err != nil || held {
		t.Fatalf("request without a lease: held %v, %v; want nothing written", held, err)
	}
	if feed, err := a.ReadSettled(t.Context(), "tree"); err != nil || len(feed) != 0 {
		t.Fatalf("feed %v, %v; want empty", feed, err)
	}
	l, err := a.AcquireTree(t.Context(), "tree", "root")
	if err != nil {
		t.Fatal(err)
	}
	seq, held, err := b.RequestCancel(t.Context(), "tree", "x", "stop it")
	if err != nil || !held {
		t.Fatalf("request: held %v, %v", held, err)
	}
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case n := <-a.Notices():
			got = n.Kind == cluster.NoticeSettled && n.ID == "tree"
		case <-deadline:
			t.Fatal("no notice reached the coordinator")
		}
	}
	feed, err := a.ReadSettled(t.Context(), "tree")
	if err != nil || len(feed) != 1 || !feed[0].Cancel || feed[0].Message != "stop it" || feed[0].Task.ID != "x" || feed[0].Seq != seq || feed[0].Token != l.Token {
		t.Fatalf("feed %+v, %v; want the request for x", feed, err)
	}
	if in, err := b.InFeed(t.Context(), seq); err != nil || !in {
		t.Fatalf("InFeed before the ack: %v, %v", in, err)
	}
	if _, err := a.CommitRound(t.Context(), l, cluster.Round{Ack: []int64{seq}}); err != nil {
		t.Fatal(err)
	}
	if in, err := b.InFeed(t.Context(), seq); err != nil || in {
		t.Fatalf("InFeed after the ack: %v, %v", in, err)
	}
}

// TestEventsReachTheFollowingNode: a node's follows are seen by the others (live ones
// only), events sent to it arrive once, in order, with a notice, and its inbox is empty
// after reading; a node that leaves drops its follows and inbox.
func TestEventsReachTheFollowingNode(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, 5*time.Second)
	if err := b.Follow(t.Context(), []string{"r1", "r2", ""}); err != nil {
		t.Fatal(err)
	}
	if err := b.Follow(t.Context(), []string{"r2", "r3"}); err != nil {
		t.Fatal(err)
	}
	got, err := a.Followers(t.Context())
	want := map[string][]string{"r2": {"b"}, "r3": {"b"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("a sees followers %v, %v; want %v", got, err, want)
	}
	if own, err := b.Followers(t.Context()); err != nil || len(own) != 0 {
		t.Fatalf("b sees its own follows: %v, %v", own, err)
	}
	if err := b.Follow(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Followers(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("b follows nothing, a sees %v, %v", got, err)
	}
	if err := b.Follow(t.Context(), []string{"r2", "r3"}); err != nil {
		t.Fatal(err)
	}
	var sent []cluster.Envelope
	for i := range 5 {
		sent = append(sent, cluster.Envelope{NodeID: "b", Body: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if err := a.SendEvents(t.Context(), sent[:2]); err != nil {
		t.Fatal(err)
	}
	if err := a.SendEvents(t.Context(), sent[2:]); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case n := <-b.Notices():
			got = n.Kind == cluster.NoticeEvents && n.ID == "b"
		case <-deadline:
			t.Fatal("no events notice reached b")
		}
	}
	inbox, err := b.ReceiveEvents(t.Context(), nil)
	if err != nil || len(inbox) != 5 {
		t.Fatalf("b received %d events, %v; want 5", len(inbox), err)
	}
	for i, in := range inbox {
		if want := fmt.Sprintf(`{"n":%d}`, i); string(in.Body) != want {
			t.Errorf("event %d is %s, want %s", i, in.Body, want)
		}
	}
	// Until acknowledged, every event is returned again (its first response may have
	// been lost with the connection); acknowledged ones are gone.
	if again, err := b.ReceiveEvents(t.Context(), nil); err != nil || !reflect.DeepEqual(again, inbox) {
		t.Fatalf("b received again %v, %v; want the same 5 events", again, err)
	}
	if rest, err := b.ReceiveEvents(t.Context(), seqs(inbox[:3])); err != nil || !reflect.DeepEqual(rest, inbox[3:]) {
		t.Fatalf("after acknowledging 3 events b received %v, %v; want the last 2", rest, err)
	}
	if err := a.SendEvents(t.Context(), sent[:1]); err != nil {
		t.Fatal(err)
	}
	rest, err := b.ReceiveEvents(t.Context(), seqs(inbox[3:]))
	if err != nil || len(rest) != 1 || string(rest[0].Body) != string(sent[0].Body) || rest[0].Seq <= inbox[4].Seq {
		t.Fatalf("after acknowledging all b received %v, %v; want only the new event", rest, err)
	}
	if left, err := b.ReceiveEvents(t.Context(), seqs(rest)); err != nil || len(left) != 0 {
		t.Fatalf("b's inbox still holds %d events, %v", len(left), err)
	}
	if n := countRows(t, sa, "SELECT count(*) FROM apflow_event_inbox"); n != 0 {
		t.Fatalf("%d acknowledged events left in the inbox", n)
	}
	if err := a.SendEvents(t.Context(), sent[:1]); err != nil {
		t.Fatal(err)
	}
	if err := b.Leave(t.Context()); err != nil {
		t.Fatal(err)
	}
	b2 := join(t, sa, "b", 5*time.Second)
	if got, err := a.Followers(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("after b left and joined again a sees followers %v, %v", got, err)
	}
	if left, err := b2.ReceiveEvents(t.Context(), nil); err != nil || len(left) != 0 {
		t.Fatalf("b's new process received %d events of the former one, %v", len(left), err)
	}
}

// TestFollowersSurviveMissedHeartbeats: a node that missed its heartbeats for a while
// (the database was restarting) still gets the events of the runs it follows; one silent
// for longer than the grace is no longer sent anything.
func TestFollowersSurviveMissedHeartbeats(t *testing.T) {
	t.Parallel()
	sa, a, b := clusterSetup(t, 2*time.Second)
	if err := b.Follow(t.Context(), []string{"r1"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		silent string
		want   bool
	}{{"3 seconds", true}, {"5 seconds", true}, {"7 seconds", false}} {
		if _, err := sa.pool.Exec(t.Context(), "UPDATE apflow_nodes SET heartbeat_at = now() - $1::interval WHERE node_id = 'b'", c.silent); err != nil {
			t.Fatal(err)
		}
		got, err := a.Followers(t.Context())
		if err != nil || (len(got["r1"]) == 1) != c.want {
			t.Fatalf("b silent for %s: a sees followers %v, %v; want b among them: %v", c.silent, got, err, c.want)
		}
	}
}

// seqs returns the sequence numbers that acknowledge events.
func seqs(events []cluster.Inbound) []int64 {
	out := make([]int64, len(events))
	for i, ev := range events {
		out[i] = ev.Seq
	}
	return out
}

// countRows runs a count query.
func countRows(t *testing.T, s *Store, query string) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(t.Context(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestDeadNodesAreForgotten: the row of a node silent for longer than inboxRetention
// is deleted when it holds no lease (a process's default id never joins again), kept
// while a lease names it; a node that was only paused writes its row again.
func TestDeadNodesAreForgotten(t *testing.T) {
	t.Parallel()
	s, a, b := clusterSetup(t, 5*time.Second)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := s.pool.Exec(t.Context(), sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"ghost", "ghost-with-lease", "recently-dead"} {
		exec(`INSERT INTO apflow_nodes (node_id, version, schema_version, concurrency) VALUES ($1, 'v', 1, 1)`, id)
	}
	exec(`UPDATE apflow_nodes SET heartbeat_at = now() - interval '2 hours' WHERE node_id IN ('ghost', 'ghost-with-lease', 'b')`)
	exec(`UPDATE apflow_nodes SET heartbeat_at = now() - interval '10 minutes' WHERE node_id = 'recently-dead'`)
	exec(`INSERT INTO apflow_tree_leases (tree_id, root_id, node_id, token, expires_at) VALUES ('t', 't', 'ghost-with-lease', 1, now())`)
	a.purgeDead(t.Context())
	rows := func() []string {
		var ids []string
		r, err := s.pool.Query(t.Context(), `SELECT node_id FROM apflow_nodes ORDER BY node_id`)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var id string
			if err := r.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	if got, want := rows(), []string{"a", "ghost-with-lease", "recently-dead"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("nodes after the purge: %v, want %v (b was silent for 2 hours too)", got, want)
	}
	// b was only paused: its next heartbeat writes its row again.
	if _, err := b.Heartbeat(t.Context(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := rows(); !reflect.DeepEqual(got, []string{"a", "b", "ghost-with-lease", "recently-dead"}) {
		t.Fatalf("nodes after b's heartbeat: %v", got)
	}
}

// TestJoinUnderAnIDAlreadySeen: a node id is one process's at a time. A process restarted
// at once under the id of one that died waits for the dead one's lease to run out; a
// second process under the id of a node that heartbeats is refused.
func TestJoinUnderAnIDAlreadySeen(t *testing.T) {
	t.Parallel()
	const lease = 2 * time.Second
	tests := []struct {
		name      string
		heartbeat bool   // whether the former process goes on heartbeating
		want      string // in Join's error; "" for none
	}{
		{"a process that died", false, ""},
		{"a live node", true, `a live node already has the id "n"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer // written by Join's goroutine only
			s, dsn := setup(t, Options{})
			former := join(t, s, "n", lease)
			if tc.heartbeat {
				ctx, stop := context.WithCancel(t.Context())
				defer stop()
				go func() {
					for ctx.Err() == nil {
						_, _ = former.Heartbeat(ctx, nil, nil)
						time.Sleep(lease / 8)
					}
				}()
			}
			s2 := open(t, Options{DSN: dsn, Logger: hclog.New(&hclog.LoggerOptions{Output: &logs})})
			n, err := Join(t.Context(), s2, NodeOptions{ID: "n", Lease: lease, Heartbeat: lease / 4})
			if err == nil {
				t.Cleanup(func() { _ = n.Leave(context.Background()) })
			}
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Join: %v, want an error holding %q", err, tc.want)
			}
			if !strings.Contains(logs.String(), "waiting for its lease to run out") {
				t.Errorf("Join did not say it waited; its log:\n%s", logs.String())
			}
		})
	}
}
