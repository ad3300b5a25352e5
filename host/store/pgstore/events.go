package pgstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// inboxRetention is how long an event waits in the inbox of a node that does not read it
// (it died) before any node may delete it, and how long a node may stay silent before
// its follows, and its row when it holds no lease or claim, are deleted.
const inboxRetention = "1 hour"

// Follow implements cluster.Driver: one transaction replaces this node's rows of
// apflow_follows and notifies apflow_follows.
func (n *Node) Follow(ctx context.Context, roots []string) error {
	// Never nil: pgx sends a nil slice as NULL, and "= ANY(NULL)" matches nothing.
	roots = slices.DeleteFunc(append([]string{}, roots...), func(r string) bool { return r == "" })
	return n.s.use(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue("DELETE FROM apflow_follows WHERE node_id = $1 AND NOT (root_id = ANY($2))", n.id, roots)
		b.Queue(`INSERT INTO apflow_follows (node_id, root_id) SELECT $1, r FROM unnest($2::text[]) AS r
			ON CONFLICT DO NOTHING`, n.id, roots)
		b.Queue("SELECT pg_notify('apflow_follows', $1)", n.id)
		b.Queue("COMMIT")
		if err := n.s.pool.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("record the runs node %s follows: %w", n.id, err)
		}
		return nil
	})
}

// followerGrace is how many lease intervals a silent node stays a follower (Followers).
const followerGrace = 3

// Followers implements cluster.Driver: the follows of the other nodes whose heartbeat
// is within followerGrace of their lease intervals. The grace keeps a node that missed
// heartbeats only because the database was away (a restart: every node misses them at
// once) among the followers when the database comes back, before its next heartbeat;
// a node that is really gone gets events in its inbox for that long, no longer.
func (n *Node) Followers(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	err := n.s.use(ctx, func() error {
		rows, err := n.s.pool.Query(ctx, `SELECT f.root_id, f.node_id FROM apflow_follows f
			JOIN apflow_nodes m ON m.node_id = f.node_id
			WHERE f.node_id <> $1
			AND m.heartbeat_at > now() - $3 * make_interval(secs => coalesce(m.lease_seconds, $2))
			ORDER BY f.root_id, f.node_id`, n.id, n.lease.Seconds(), followerGrace)
		if err != nil {
			return err
		}
		var root, node string
		_, err = pgx.ForEachRow(rows, []any{&root, &node}, func() error {
			out[root] = append(out[root], node)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the runs other nodes follow: %w", err)
	}
	return out, nil
}

// SendEvents implements cluster.Driver: one transaction inserts every envelope, in
// order, and notifies each receiving node once on apflow_events.
func (n *Node) SendEvents(ctx context.Context, events []cluster.Envelope) error {
	if len(events) == 0 {
		return nil
	}
	nodes := make([]string, len(events))
	bodies := make([][]byte, len(events))
	for i, ev := range events {
		nodes[i], bodies[i] = ev.NodeID, ev.Body
	}
	return n.s.use(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(`INSERT INTO apflow_event_inbox (node_id, body)
			SELECT node_id, body FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS e(node_id, body, i)
			ORDER BY i`, nodes, bodies)
		b.Queue("SELECT pg_notify('apflow_events', node_id) FROM (SELECT DISTINCT unnest($1::text[]) AS node_id) d", nodes)
		b.Queue("COMMIT")
		if err := n.s.pool.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("send %d run events: %w", len(events), err)
		}
		return nil
	})
}

// ReceiveEvents implements cluster.Driver: one transaction deletes the acknowledged
// events and returns the rest of this node's inbox. Deleting only what the engine
// acknowledged keeps an event whose response died with the connection (the database
// restarting) in the inbox for the next call, where a destructive read would lose it.
// The read follows the delete in the transaction, so it does not see the deleted rows
// and needs no filter against the (after an outage, long) list of acknowledged ones.
// At most once per inboxRetention/60 it purges what dead nodes left.
func (n *Node) ReceiveEvents(ctx context.Context, done []int64) ([]cluster.Inbound, error) {
	var out []cluster.Inbound
	err := n.s.use(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		if len(done) > 0 {
			b.Queue("DELETE FROM apflow_event_inbox WHERE node_id = $1 AND seq = ANY($2)", n.id, done)
		}
		b.Queue("SELECT seq, body FROM apflow_event_inbox WHERE node_id = $1 ORDER BY seq", n.id).Query(func(rows pgx.Rows) error {
			var ev cluster.Inbound
			_, err := pgx.ForEachRow(rows, []any{&ev.Seq, &ev.Body}, func() error {
				out = append(out, cluster.Inbound{Seq: ev.Seq, Body: slices.Clone(ev.Body)})
				return nil
			})
			return err
		})
		b.Queue("COMMIT")
		return n.s.pool.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("receive the run events sent to node %s: %w", n.id, err)
	}
	n.purgeDead(ctx)
	return out, nil
}

// purgeDead deletes, at most once a minute, the events waiting longer than
// inboxRetention in any inbox, and the follows and node rows of nodes not heard from for
// as long (they died without leaving; a process's default id, host and pid, never joins
// again), a row only when no lease or claim names its node. Rows another node is purging
// are skipped, so two nodes never wait for each other. A node that was only paused writes
// its row again at its next heartbeat.
func (n *Node) purgeDead(ctx context.Context) {
	now := time.Now()
	if last := n.purged.Load(); last != 0 && now.Sub(time.Unix(0, last)) < time.Minute {
		return
	}
	n.purged.Store(now.UnixNano())
	err := n.s.use(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM apflow_event_inbox WHERE seq IN (
			SELECT seq FROM apflow_event_inbox WHERE sent_at < now() - interval '` + inboxRetention + `'
			FOR UPDATE SKIP LOCKED)`)
		b.Queue(`DELETE FROM apflow_follows f WHERE NOT EXISTS (
			SELECT 1 FROM apflow_nodes m WHERE m.node_id = f.node_id AND m.heartbeat_at > now() - interval '` + inboxRetention + `')`)
		b.Queue(`DELETE FROM apflow_nodes m WHERE m.node_id IN (
			SELECT node_id FROM apflow_nodes WHERE heartbeat_at < now() - interval '` + inboxRetention + `' FOR UPDATE SKIP LOCKED)
			AND NOT EXISTS (SELECT 1 FROM apflow_tree_leases l WHERE l.node_id = m.node_id)
			AND NOT EXISTS (SELECT 1 FROM apflow_claims c WHERE c.node_id = m.node_id)`)
		return n.s.pool.SendBatch(ctx, b).Close()
	})
	if err != nil {
		n.s.opts.Logger.Warn("purging the events and follows of dead nodes failed; retrying later", "error", err)
	}
}
