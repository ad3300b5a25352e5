package pgstore

import (
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// Cluster writes ride on the committer's rounds (committer.go): a job may carry a
// clusterWrite, whose fence is checked against the leases locked at the start of the
// round and whose queue, claim and feed changes are written with the round's task
// updates, in the same transaction. So a claimed task's outcome and the end of its
// claim, or a coordinator's start decisions and the queue entries they create, commit
// together or not at all, and share the round's WAL flush with every other job.
//
// Lock order, the same in every transaction that takes both: claims, then tree leases
// (shared), then tasks; so rounds and claims (claim.go) cannot deadlock.

type fenceKind uint8

const (
	noFence    fenceKind = iota
	treeFence            // key is a tree id: the tree lease must have token
	claimFence           // key is a task id: its claim must have token
)

// clusterWrite is the cluster part of a job.
type clusterWrite struct {
	fence fenceKind
	key   string
	token int64

	// tree and root of the enqueued tasks' run
	treeID, rootID string
	enqueue        []string // tasks to queue if pending after the job
	dequeue        []string // tasks whose queue entry or claim is dropped, holder told
	endClaim       string   // task whose claim ends with the job (Finish)
	requeue        string   // task whose claim goes back to the queue (Release, sweep)
	settleTree     string   // tree whose settled feed gets the job's tasks

	// selfClaim: tasks claimed for node (lease: seconds) if in_progress after the job;
	// tokens receives their tokens. finished: this node's claims whose outcome the job
	// writes: fences of the job too, ended with it.
	selfClaim []string
	node      string
	lease     float64
	tokens    map[string]int64
	finished  []cluster.ClaimRef
	ack       []int64 // settled-feed entries to delete
}

// leaseState is what the round found locked: token by tree id, token by claimed task id
// (0 for a queued, unclaimed entry).
type leaseState struct {
	trees  map[string]int64
	claims map[string]int64
}

// lockLeases queues on b the locks of the leases the round's jobs depend on.
func lockLeases(b *pgx.Batch, jobs []*job) *leaseState {
	l := &leaseState{trees: map[string]int64{}, claims: map[string]int64{}}
	var trees, claims []string
	for _, j := range jobs {
		w := j.cw
		if w == nil {
			continue
		}
		switch w.fence {
		case treeFence:
			trees = append(trees, w.key)
		case claimFence:
			claims = append(claims, w.key)
		}
		claims = append(claims, w.dequeue...)
		for _, f := range w.finished {
			claims = append(claims, f.TaskID)
		}
	}
	if len(claims) > 0 {
		b.Queue("SELECT task_id, coalesce(token, 0) FROM apflow_claims WHERE task_id = ANY($1) ORDER BY task_id FOR UPDATE", claims).
			Query(scanTokens(l.claims))
	}
	if len(trees) > 0 {
		b.Queue("SELECT tree_id, token FROM apflow_tree_leases WHERE tree_id = ANY($1) ORDER BY tree_id FOR SHARE", trees).
			Query(scanTokens(l.trees))
	}
	return l
}

func scanTokens(into map[string]int64) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		var id string
		var token int64
		_, err := pgx.ForEachRow(rows, []any{&id, &token}, func() error {
			into[id] = token
			return nil
		})
		return err
	}
}

// check fails a job whose fence does not hold.
func (l *leaseState) check(j *job) error {
	w := j.cw
	if w == nil {
		return nil
	}
	switch w.fence {
	case treeFence:
		if l.trees[w.key] != w.token {
			return fmt.Errorf("tree %s: %w", w.key, cluster.ErrFenced)
		}
	case claimFence:
		if l.claims[w.key] != w.token {
			return fmt.Errorf("task %s: %w", w.key, cluster.ErrFenced)
		}
	}
	for _, f := range w.finished {
		if l.claims[f.TaskID] != f.Token {
			return fmt.Errorf("task %s: %w", f.TaskID, cluster.ErrFenced)
		}
	}
	return nil
}

// queueClusterWrites queues on b the cluster writes of the jobs that succeeded. Only
// claims the round locked first are dequeued: taking another claim's lock now, after the
// tasks', would invert the lock order (a claim created since belongs to a task the round
// just made terminal, which no claimer starts).
func queueClusterWrites(b *pgx.Batch, jobs []*job, leases *leaseState) {
	var (
		enqIDs, enqTrees, enqRoots []string
		dequeue, ended, requeued   []string
		feedTrees, feedTasks       []string
	)
	for _, j := range jobs {
		w := j.cw
		if w == nil || j.err != nil {
			continue
		}
		for _, id := range w.enqueue {
			enqIDs, enqTrees, enqRoots = append(enqIDs, id), append(enqTrees, w.treeID), append(enqRoots, w.rootID)
		}
		for _, id := range w.dequeue {
			if _, locked := leases.claims[id]; locked {
				dequeue = append(dequeue, id)
			}
		}
		if w.endClaim != "" {
			ended = append(ended, w.endClaim)
		}
		for _, f := range w.finished {
			ended = append(ended, f.TaskID)
		}
		if len(w.selfClaim) > 0 {
			queueSelfClaims(b, w)
		}
		if len(w.ack) > 0 {
			b.Queue("DELETE FROM apflow_settled WHERE seq = ANY($1)", w.ack)
		}
		if w.requeue != "" {
			requeued = append(requeued, w.requeue)
		}
		if w.settleTree != "" {
			for _, m := range j.muts {
				feedTrees, feedTasks = append(feedTrees, w.settleTree), append(feedTasks, m.ID)
			}
		}
	}
	if len(dequeue) > 0 {
		b.Queue(`WITH d AS (DELETE FROM apflow_claims WHERE task_id = ANY($1) RETURNING task_id, node_id, token)
			SELECT pg_notify('apflow_cancel', token || ' ' || task_id) FROM d WHERE node_id IS NOT NULL`, dequeue)
	}
	if len(ended) > 0 {
		b.Queue("DELETE FROM apflow_claims WHERE task_id = ANY($1)", ended)
	}
	if len(enqIDs) > 0 {
		b.Queue(`INSERT INTO apflow_claims (task_id, tree_id, root_id, priority, seq)
			SELECT t.id, u.tree_id, u.root_id, t.priority, t.seq
			FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, tree_id, root_id)
			JOIN apflow_tasks t ON t.id = u.id
			WHERE t.status = 'pending'
			ON CONFLICT (task_id) DO NOTHING`, enqIDs, enqTrees, enqRoots)
	}
	if len(requeued) > 0 {
		b.Queue("UPDATE apflow_claims SET node_id = NULL, token = NULL, expires_at = NULL WHERE task_id = ANY($1)", requeued)
	}
	if len(enqIDs) > 0 || len(requeued) > 0 {
		b.Queue("SELECT pg_notify('apflow_queued', '')")
	}
	if len(feedTasks) > 0 {
		b.Queue("INSERT INTO apflow_settled (tree_id, task_id) SELECT * FROM unnest($1::text[], $2::text[])", feedTrees, feedTasks)
		b.Queue("SELECT pg_notify('apflow_settled', t) FROM (SELECT DISTINCT unnest($1::text[]) AS t) AS x", feedTrees)
	}
}

// queueSelfClaims queues the claims a coordinator takes for its own node in its round,
// for the tasks the round started; their tokens go to w.tokens.
func queueSelfClaims(b *pgx.Batch, w *clusterWrite) {
	b.Queue(`INSERT INTO apflow_claims (task_id, tree_id, root_id, priority, seq, node_id, token, expires_at)
		SELECT t.id, $2, $3, t.priority, t.seq, $4, nextval('apflow_fence'), clock_timestamp() + make_interval(secs => $5)
		FROM apflow_tasks t WHERE t.id = ANY($1) AND t.status = 'in_progress'
		ON CONFLICT (task_id) DO NOTHING
		RETURNING task_id, token`, w.selfClaim, w.treeID, w.rootID, w.node, w.lease).
		Query(scanTokens(w.tokens))
}
