package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/task"
)

// AcquireTree implements cluster.Driver. A lease past its expiry is taken over with a
// new token, so its former holder's fenced writes fail from then on.
func (n *Node) AcquireTree(ctx context.Context, treeID, rootID string) (cluster.Lease, error) {
	l := cluster.Lease{TreeID: treeID, RootID: rootID}
	err := n.s.use(ctx, func() error {
		// The holder may release between the two statements: then try again.
		for {
			err := n.acquireOnce(ctx, &l)
			if !errors.Is(err, errLeaseGone) {
				return err
			}
		}
	})
	if err != nil {
		return cluster.Lease{}, fmt.Errorf("lease tree %s: %w", l.TreeID, err)
	}
	return l, nil
}

// errLeaseGone: the lease that refused an acquisition was released before its holder
// could be read.
var errLeaseGone = errors.New("lease released meanwhile")

// acquireOnce tries to take the lease once: it sets l.Token, or returns a *HeldError, or
// errLeaseGone.
func (n *Node) acquireOnce(ctx context.Context, l *cluster.Lease) error {
	treeID, rootID := l.TreeID, l.RootID
	err := n.s.pool.QueryRow(ctx, `INSERT INTO apflow_tree_leases (tree_id, root_id, node_id, token, expires_at)
			VALUES ($1, $2, $3, nextval('apflow_fence'), clock_timestamp() + make_interval(secs => $4))
			ON CONFLICT (tree_id) DO UPDATE SET root_id = EXCLUDED.root_id, node_id = EXCLUDED.node_id,
				token = EXCLUDED.token, expires_at = EXCLUDED.expires_at, started_at = now(),
				tasks = 0, finished = 0
			WHERE apflow_tree_leases.expires_at < now()
			RETURNING token`, treeID, rootID, n.id, n.lease.Seconds()).Scan(&l.Token)
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	held := &cluster.HeldError{TreeID: treeID}
	err = n.s.pool.QueryRow(ctx, "SELECT root_id, node_id FROM apflow_tree_leases WHERE tree_id = $1", treeID).
		Scan(&held.RootID, &held.NodeID)
	if errors.Is(err, pgx.ErrNoRows) {
		return errLeaseGone
	}
	if err != nil {
		return fmt.Errorf("read the holder of the lease: %w", err)
	}
	return held
}

// ReleaseTree implements cluster.Driver.
func (n *Node) ReleaseTree(ctx context.Context, l cluster.Lease) error {
	return n.s.use(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		// The feed goes with the lease only: a node releasing a lease it lost must not
		// drop the entries of the coordinator that took the tree over.
		b.Queue(`WITH released AS (
				DELETE FROM apflow_tree_leases WHERE tree_id = $1 AND token = $2 RETURNING tree_id)
			DELETE FROM apflow_settled s USING released WHERE s.tree_id = released.tree_id`, l.TreeID, l.Token)
		b.Queue("COMMIT")
		if err := n.s.pool.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("release the lease of tree %s: %w", l.TreeID, err)
		}
		return nil
	})
}

// CommitRound implements cluster.Driver: a committer job fenced by the tree lease (and
// the claims whose outcomes it writes).
func (n *Node) CommitRound(ctx context.Context, l cluster.Lease, r cluster.Round) (cluster.RoundResult, error) {
	if len(r.Muts) == 0 && len(r.Enqueue) == 0 && len(r.Dequeue) == 0 && len(r.Ack) == 0 {
		return cluster.RoundResult{Tasks: []*task.Task{}}, nil
	}
	w := &clusterWrite{fence: treeFence, key: l.TreeID, token: l.Token,
		treeID: l.TreeID, rootID: l.RootID, enqueue: r.Enqueue, dequeue: r.Dequeue,
		selfClaim: r.Claim, node: n.id, lease: n.lease.Seconds(), tokens: map[string]int64{},
		finished: r.Finished, ack: r.Ack}
	j := &job{muts: r.Muts, cw: w}
	if err := n.s.submit(ctx, j); err != nil {
		return cluster.RoundResult{}, err
	}
	return cluster.RoundResult{Tasks: j.out, Tokens: w.tokens}, nil
}

// RequestCancel implements cluster.Driver: the request is written only while a live
// lease holds the tree, under a share lock of the lease, so that a release (which drops
// the feed) cannot slip in between.
func (n *Node) RequestCancel(ctx context.Context, treeID, taskID, message string) (int64, bool, error) {
	var seq int64
	err := n.s.use(ctx, func() error {
		return n.s.pool.QueryRow(ctx, `WITH l AS (
				SELECT tree_id, token FROM apflow_tree_leases WHERE tree_id = $1 AND expires_at > clock_timestamp() FOR SHARE),
			req AS (
				INSERT INTO apflow_settled (tree_id, task_id, cancel_message, cancel_token)
				SELECT tree_id, $2, $3, token FROM l RETURNING seq)
			SELECT seq, pg_notify('apflow_settled', $1) FROM req`, treeID, taskID, message).Scan(&seq, nil)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("request the cancel of %s from the coordinator of tree %s: %w", taskID, treeID, err)
	}
	return seq, true, nil
}

// InFeed implements cluster.Driver.
func (n *Node) InFeed(ctx context.Context, seq int64) (bool, error) {
	var in bool
	err := n.s.use(ctx, func() error {
		return n.s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM apflow_settled s
			JOIN apflow_tree_leases l ON l.tree_id = s.tree_id AND l.expires_at > clock_timestamp()
			WHERE s.seq = $1)`, seq).Scan(&in)
	})
	if err != nil {
		return false, fmt.Errorf("settled feed entry %d: %w", seq, err)
	}
	return in, nil
}

// Queued implements cluster.Driver.
func (n *Node) Queued(ctx context.Context, treeID string) (map[string]bool, error) {
	out := map[string]bool{}
	err := n.s.use(ctx, func() error {
		rows, err := n.s.pool.Query(ctx, "SELECT task_id FROM apflow_claims WHERE tree_id = $1", treeID)
		if err != nil {
			return err
		}
		var id string
		_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
			out[id] = true
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("queued tasks of tree %s: %w", treeID, err)
	}
	return out, nil
}

// ReadSettled implements cluster.Driver (one round trip; it writes nothing).
func (n *Node) ReadSettled(ctx context.Context, treeID string) ([]cluster.Settled, error) {
	var out []cluster.Settled
	err := n.s.use(ctx, func() error {
		rows, err := n.s.pool.Query(ctx, `SELECT s.seq, t.id, t.body, s.cancel_message, coalesce(s.cancel_token, 0) FROM apflow_settled s
			JOIN apflow_tasks t ON t.id = s.task_id
			WHERE s.tree_id = $1 ORDER BY s.seq`, treeID)
		if err != nil {
			return err
		}
		var seq int64
		var id string
		var body []byte
		var cancel *string
		var token int64
		_, err = pgx.ForEachRow(rows, []any{&seq, &id, &body, &cancel, &token}, func() error {
			t, err := decode(id, body)
			if err != nil {
				return err
			}
			e := cluster.Settled{Seq: seq, Task: t}
			if cancel != nil {
				e.Cancel, e.Message, e.Token = true, *cancel, token
			}
			out = append(out, e)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("settled feed of tree %s: %w", treeID, err)
	}
	return out, nil
}

// Orphans implements cluster.Driver. Roots with a run marker are found through their
// partial index; in_progress tasks through the status index.
func (n *Node) Orphans(ctx context.Context) ([]*task.Task, error) {
	var out []*task.Task
	err := n.s.use(ctx, func() error {
		// Two index paths, not an OR that would scan every root: marked roots (partial
		// index), and the roots of trees with unclaimed in_progress tasks (status index,
		// then the root by its id, which is its tree's id).
		rows, err := n.s.pool.Query(ctx, `WITH candidates AS (
				SELECT id FROM apflow_tasks WHERE run_active
				UNION
				SELECT coalesce(o.tree_id, o.id) FROM apflow_tasks o
				WHERE o.status = 'in_progress'
					AND NOT EXISTS (SELECT 1 FROM apflow_claims c WHERE c.task_id = o.id))
			SELECT t.id, t.body FROM candidates c JOIN apflow_tasks t ON t.id = c.id
			WHERE t.parent_id IS NULL AND NOT EXISTS (
				SELECT 1 FROM apflow_tree_leases l
				WHERE l.tree_id = coalesce(t.tree_id, t.id) AND l.expires_at >= now())
			ORDER BY t.seq, t.id`)
		if err != nil {
			return err
		}
		var id string
		var body []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &body}, func() error {
			t, err := decode(id, body)
			if err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("runs without a live coordinator: %w", err)
	}
	return out, nil
}

// Runs implements cluster.Driver.
func (n *Node) Runs(ctx context.Context) ([]cluster.RunLease, error) {
	var out []cluster.RunLease
	err := n.s.use(ctx, func() error {
		rows, err := n.s.pool.Query(ctx, `SELECT l.tree_id, l.root_id, l.node_id, l.started_at, l.expires_at,
				l.tasks, l.finished,
				(SELECT count(*) FROM apflow_claims c WHERE c.tree_id = l.tree_id AND c.node_id IS NOT NULL)
			FROM apflow_tree_leases l WHERE l.expires_at >= now() ORDER BY l.root_id`)
		if err != nil {
			return err
		}
		var r cluster.RunLease
		_, err = pgx.ForEachRow(rows, []any{&r.TreeID, &r.RootID, &r.NodeID, &r.StartedAt, &r.ExpiresAt,
			&r.Tasks, &r.Finished, &r.Executing}, func() error {
			out = append(out, r)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cluster runs: %w", err)
	}
	return out, nil
}

// nodeLeaseSchemaVersion is the first schema version where nodes record their lease.
const nodeLeaseSchemaVersion = 5

// leaseOf is the SQL expression of a node row's lease in seconds (table: the row's
// table or alias): its own, or $1 (this node's) for a node that recorded none or a
// schema without the column.
func (n *Node) leaseOf(table string) string {
	if n.schema < nodeLeaseSchemaVersion {
		return "$1::float8"
	}
	return "coalesce(" + table + ".lease_seconds, $1)"
}

// Nodes implements cluster.Driver. A node is alive when it heartbeated within its own
// lease interval.
func (n *Node) Nodes(ctx context.Context) ([]cluster.Node, error) {
	var out []cluster.Node
	err := n.s.use(ctx, func() error {
		rows, err := n.s.pool.Query(ctx, `WITH m AS (
				SELECT *, `+n.leaseOf("apflow_nodes")+` AS lease FROM apflow_nodes)
			SELECT n.node_id, n.started_at, n.heartbeat_at, n.version,
				n.schema_version, n.concurrency, n.executing, n.lease,
				n.heartbeat_at >= now() - make_interval(secs => n.lease),
				(SELECT count(*) FROM apflow_tree_leases l WHERE l.node_id = n.node_id AND l.expires_at >= now()),
				(SELECT count(*) FROM apflow_claims c WHERE c.node_id = n.node_id)
			FROM m n ORDER BY n.node_id`, n.lease.Seconds())
		if err != nil {
			return err
		}
		var x cluster.Node
		var lease float64
		_, err = pgx.ForEachRow(rows, []any{&x.ID, &x.StartedAt, &x.HeartbeatAt, &x.Version,
			&x.SchemaVersion, &x.Concurrency, &x.Executing, &lease, &x.Alive, &x.Trees, &x.Claims}, func() error {
			x.Lease = time.Duration(lease * float64(time.Second))
			out = append(out, x)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cluster nodes: %w", err)
	}
	return out, nil
}
