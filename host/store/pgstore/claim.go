package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Claims. A task is claimable while its apflow_claims row has no node. Claim takes the
// first n such rows in priority, then submission order, skipping rows another node's
// transaction holds (FOR UPDATE SKIP LOCKED), gives each a fresh fencing token and a
// lease, and starts the tasks, in one transaction of two round trips. The outcome is
// written by Finish (a committer job fenced by the token, see clusterwrites.go), which
// also ends the claim.

const claimSQL = `WITH picked AS (
		SELECT task_id FROM apflow_claims WHERE node_id IS NULL
		ORDER BY priority, seq, task_id LIMIT $1 FOR UPDATE SKIP LOCKED),
	claimed AS (
		UPDATE apflow_claims c SET node_id = $2, token = nextval('apflow_fence'),
			expires_at = clock_timestamp() + make_interval(secs => $3)
		FROM picked WHERE c.task_id = picked.task_id
		RETURNING c.task_id, c.token, c.root_id)
	SELECT claimed.task_id, claimed.token, claimed.root_id, t.body
	FROM claimed JOIN apflow_tasks t ON t.id = claimed.task_id
	ORDER BY t.priority, t.seq, t.id FOR UPDATE OF t`

// sweepSQL takes expired claims back: they become queued again.
const sweepSQL = `WITH expired AS (
		SELECT task_id FROM apflow_claims WHERE node_id IS NOT NULL AND expires_at < now()
		ORDER BY task_id LIMIT $1 FOR UPDATE SKIP LOCKED),
	requeued AS (
		UPDATE apflow_claims c SET node_id = NULL, token = NULL, expires_at = NULL
		FROM expired WHERE c.task_id = expired.task_id
		RETURNING c.task_id, c.root_id)
	SELECT requeued.task_id, 0::bigint, requeued.root_id, t.body
	FROM requeued JOIN apflow_tasks t ON t.id = requeued.task_id
	ORDER BY t.id FOR UPDATE OF t`

// Claim implements cluster.Driver.
func (n *Node) Claim(ctx context.Context, max int) ([]cluster.Claim, error) {
	if max <= 0 {
		return nil, nil
	}
	now := n.s.now()
	return n.pickAndWrite(ctx, claimSQL, []any{max, n.id, n.lease.Seconds()}, func(t *task.Task) error {
		if t.Status != task.Pending {
			return fmt.Errorf("task %s is %s, not pending", t.ID, t.Status)
		}
		return t.Start(now)
	})
}

// SweepClaims implements cluster.Driver.
func (n *Node) SweepClaims(ctx context.Context) (int, error) {
	now := n.s.now()
	total := 0
	for {
		got, err := n.pickAndWrite(ctx, sweepSQL, []any{1000}, func(t *task.Task) error {
			if t.Status != task.InProgress {
				return nil
			}
			return t.Reset(now)
		})
		total += len(got)
		if err != nil || len(got) < 1000 {
			return total, err
		}
	}
}

// pickAndWrite runs pick (a statement returning task_id, token, root_id, body of locked
// rows), applies fn to each task, writes them, drops the claims of tasks fn refused, and
// commits, in two round trips (BEGIN with pick; the writes with COMMIT). It returns the
// claims of the tasks fn accepted, as written.
func (n *Node) pickAndWrite(ctx context.Context, pick string, args []any, fn func(*task.Task) error) ([]cluster.Claim, error) {
	var out []cluster.Claim
	err := n.s.use(ctx, func() error {
		conn, err := n.s.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		defer conn.Release()
		open := true
		defer func() {
			if open {
				_, _ = conn.Exec(context.Background(), "ROLLBACK")
			}
		}()
		var picked []cluster.Claim
		state := map[string]*entry{}
		var ids []string
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(pick, args...).Query(func(rows pgx.Rows) error {
			var id, root string
			var token int64
			var body []byte
			_, err := pgx.ForEachRow(rows, []any{&id, &token, &root, &body}, func() error {
				t, err := decode(id, body)
				if err != nil {
					return err
				}
				picked = append(picked, cluster.Claim{Task: t, RootID: root, Token: token})
				state[id] = &entry{orig: t, cur: t}
				ids = append(ids, id)
				return nil
			})
			return err
		})
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		now := n.s.now()
		var refused []string
		for _, c := range picked {
			j := &job{muts: []store.Mutation{{ID: c.Task.ID, Fn: fn}}}
			if err := apply(j, state, now); err != nil {
				n.s.opts.Logger.Warn("claim dropped", "task", c.Task.ID, "reason", err)
				refused = append(refused, c.Task.ID)
				continue
			}
			c.Task = j.out[0]
			out = append(out, c)
		}
		b = &pgx.Batch{}
		if len(ids) > 0 {
			b = writeBatch(ids, state)
		}
		if len(refused) > 0 {
			b.Queue("DELETE FROM apflow_claims WHERE task_id = ANY($1)", refused)
		}
		b.Queue("COMMIT")
		if err := conn.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		open = false
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	return out, nil
}

// Finish implements cluster.Driver.
func (n *Node) Finish(ctx context.Context, c cluster.Claim, fn func(*task.Task) error) (*task.Task, error) {
	tree := c.Task.TreeID()
	return n.claimed(ctx, c, fn, &clusterWrite{endClaim: c.Task.ID, settleTree: tree})
}

// UpdateClaimed implements cluster.Driver.
func (n *Node) UpdateClaimed(ctx context.Context, c cluster.Claim, fn func(*task.Task) error) (*task.Task, error) {
	return n.claimed(ctx, c, fn, &clusterWrite{})
}

// Release implements cluster.Driver.
func (n *Node) Release(ctx context.Context, c cluster.Claim) error {
	now := n.s.now()
	_, err := n.claimed(ctx, c, func(t *task.Task) error {
		if t.Status != task.InProgress {
			return nil
		}
		return t.Reset(now)
	}, &clusterWrite{requeue: c.Task.ID})
	return err
}

// claimed commits fn on a claimed task as a committer job fenced by the claim.
func (n *Node) claimed(ctx context.Context, c cluster.Claim, fn func(*task.Task) error, w *clusterWrite) (*task.Task, error) {
	w.fence, w.key, w.token = claimFence, c.Task.ID, c.Token
	j := &job{muts: []store.Mutation{{ID: c.Task.ID, Fn: fn}}, cw: w}
	if err := n.s.submit(ctx, j); err != nil {
		return nil, err
	}
	return j.out[0], nil
}
