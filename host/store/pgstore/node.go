package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// NodeOptions configure a Node.
type NodeOptions struct {
	// ID names the node; it must be unique among the nodes sharing the database.
	// Required.
	ID string
	// Version is the apflow version the node runs, shown to operators.
	Version string
	// Concurrency is the node's execution slots, shown to operators.
	Concurrency int
	// Lease is how long a lease (tree or claim) lasts without renewal; default
	// DefaultLease. Heartbeat is how often leases are renewed; default Lease/4. A node
	// that misses heartbeats for a whole Lease loses what it held to other nodes.
	Lease, Heartbeat time.Duration
}

// Defaults of NodeOptions: a dead node's work is taken over within about Lease +
// Heartbeat.
const (
	DefaultLease     = 8 * time.Second
	DefaultHeartbeat = 2 * time.Second
)

// Node is this process's membership of the cluster sharing the Store's database: the
// cluster.Driver of host/cluster, on PostgreSQL. Its writes go through the Store's
// committer, so they share its group commit.
type Node struct {
	s                *Store
	id, version      string
	concurrency      int
	lease, heartbeat time.Duration
	// schema is the database's schema version (the binary's, once migrated; older when
	// only reading the status): it decides which columns the queries may use.
	schema int

	purged  atomic.Int64 // when purgeDead last ran (Unix ns)
	notices chan cluster.Notice
	plugins chan struct{} // PluginNotices; one pending notice stands for any number
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

var _ cluster.Driver = (*Node)(nil)

// Join registers this process as a node of the cluster on s's database and returns once
// it listens for notices. Call Leave, then Close, when the node stops.
//
// A node id is one process's at a time. Join refuses an id whose node heartbeats; when
// the id's last heartbeat is recent but does not move (its process died and was
// restarted at once, as a supervisor does), Join waits for that process's lease to run
// out, at most one of its leases, and logs that it waits.
func Join(ctx context.Context, s *Store, opts NodeOptions) (*Node, error) {
	if opts.ID == "" {
		return nil, errors.New("cluster node: NodeOptions.ID is required")
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = opts.Lease / 4
	}
	if opts.Heartbeat >= opts.Lease {
		return nil, fmt.Errorf("cluster node: heartbeat %s must be shorter than the lease %s", opts.Heartbeat, opts.Lease)
	}
	n := &Node{s: s, id: opts.ID, version: opts.Version, concurrency: opts.Concurrency,
		lease: opts.Lease, heartbeat: opts.Heartbeat, schema: SchemaVersion(), notices: make(chan cluster.Notice, 256),
		plugins: make(chan struct{}, 1)}
	err := n.register(ctx)
	if err != nil {
		return nil, fmt.Errorf("join the cluster as %s: %w", n.id, err)
	}
	lctx, stop := context.WithCancel(context.Background())
	n.stop = stop
	n.wg.Add(1)
	listening := make(chan error, 1)
	go n.listen(lctx, listening)
	select {
	case err = <-listening:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		stop()
		n.wg.Wait()
		// The row goes, so that a process started again at once does not wait for this one.
		_ = s.use(context.Background(), func() error {
			_, derr := s.pool.Exec(context.Background(), `DELETE FROM apflow_nodes WHERE node_id = $1`, n.id)
			return derr
		})
		return nil, fmt.Errorf("join the cluster as %s: listen for notices: %w", n.id, err)
	}
	return n, nil
}

// register writes this node's row, once no live process holds its id (see Join).
func (n *Node) register(ctx context.Context) error {
	var seen time.Time // the former process's last heartbeat, once read
	moves := 0
	for {
		last, left, err := n.tryRegister(ctx)
		if err != nil || left <= 0 {
			return err
		}
		switch {
		case seen.IsZero():
			n.s.opts.Logger.Info("a former process of this node id heartbeat recently: waiting for its lease to run out",
				"node", n.id, "last_heartbeat", last.Format(time.RFC3339Nano), "wait_at_most", left.Round(time.Millisecond))
		case !last.Equal(seen):
			// One move may be the last heartbeat of a process killed while the database
			// still held it; a second is a live node's.
			if moves++; moves > 1 {
				return fmt.Errorf("a live node already has the id %q (it heartbeat while this process waited): give each node its own --node-id", n.id)
			}
		}
		seen = last
		t := time.NewTimer(min(left, 250*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// tryRegister writes this node's row unless another process of its id heartbeat within
// that process's lease; then it returns that heartbeat and how long its lease has left.
func (n *Node) tryRegister(ctx context.Context) (last time.Time, left time.Duration, err error) {
	err = n.s.use(ctx, func() error {
		var mine bool
		err := n.s.pool.QueryRow(ctx, `INSERT INTO apflow_nodes (node_id, version, schema_version, concurrency, lease_seconds)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (node_id) DO UPDATE SET started_at = now(), heartbeat_at = now(),
				version = $2, schema_version = $3, concurrency = $4, executing = 0, lease_seconds = $5
			WHERE apflow_nodes.heartbeat_at <= now() - make_interval(secs => coalesce(apflow_nodes.lease_seconds, $5))
			RETURNING true`,
			n.id, n.version, SchemaVersion(), n.concurrency, n.lease.Seconds()).Scan(&mine)
		if errors.Is(err, pgx.ErrNoRows) {
			var secs float64
			err = n.s.pool.QueryRow(ctx, `SELECT heartbeat_at,
				extract(epoch FROM heartbeat_at + make_interval(secs => coalesce(lease_seconds, $2)) - now())
				FROM apflow_nodes WHERE node_id = $1`, n.id, n.lease.Seconds()).Scan(&last, &secs)
			if errors.Is(err, pgx.ErrNoRows) { // purged meanwhile: try again at once
				left = time.Millisecond
				return nil
			}
			left = max(time.Duration(secs*float64(time.Second)), time.Millisecond)
			return err
		}
		if err != nil {
			return err
		}
		// What a former process of this id followed, or was sent, is not this one's.
		_, err = n.s.pool.Exec(ctx, `WITH f AS (DELETE FROM apflow_follows WHERE node_id = $1)
			DELETE FROM apflow_event_inbox WHERE node_id = $1`, n.id)
		return err
	})
	return last, left, err
}

// NodeID implements cluster.Driver.
func (n *Node) NodeID() string { return n.id }

// LeaseInterval implements cluster.Driver.
func (n *Node) LeaseInterval() time.Duration { return n.lease }

// HeartbeatInterval implements cluster.Driver.
func (n *Node) HeartbeatInterval() time.Duration { return n.heartbeat }

// Notices implements cluster.Driver.
func (n *Node) Notices() <-chan cluster.Notice { return n.notices }

// PluginNotices delivers a value when the shared plugins may have changed (Store's
// PutPlugin and RemovePlugin, from any node), and after the notice connection was
// re-established (changes may have been missed meanwhile). Notices are coalesced and may
// be lost: a consumer also polls SharedPlugins. The channel is closed when the node
// leaves.
func (n *Node) PluginNotices() <-chan struct{} { return n.plugins }

// Heartbeat implements cluster.Driver: one round trip renews the node row, its tree
// leases (with their gauges) and its claims, each only under the token it was given, and
// returns the ones it still holds, from which the lost ones follow.
func (n *Node) Heartbeat(ctx context.Context, runs []cluster.RunGauge, claimed []cluster.ClaimRef) (cluster.Lost, error) {
	trees := make([]string, len(runs))
	tokens := make([]int64, len(runs))
	tasks := make([]int64, len(runs))
	finished := make([]int64, len(runs))
	for i, r := range runs {
		trees[i], tokens[i], tasks[i], finished[i] = r.TreeID, r.Token, r.Tasks, r.Finished
	}
	ids := make([]string, len(claimed))
	claimTokens := make([]int64, len(claimed))
	for i, c := range claimed {
		ids[i], claimTokens[i] = c.TaskID, c.Token
	}
	var lost cluster.Lost
	err := n.s.use(ctx, func() error {
		var heldTrees, heldClaims []int64
		// Leases are locked in key order, as rounds lock them (clusterwrites.go), so a
		// heartbeat and a round never wait for each other in a cycle.
		// The row is written again if it is gone: purged while this node was paused
		// (purgeDead), the node shows in the cluster's status again.
		err := n.s.pool.QueryRow(ctx, `WITH node AS (
				INSERT INTO apflow_nodes (node_id, version, schema_version, concurrency, lease_seconds, executing)
				VALUES ($1, $8, $9, $10, $3, $2)
				ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = now(), executing = $2),
			g AS (SELECT * FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
				AS g(tree_id, token, tasks, finished)),
			mine AS (
				SELECT l.tree_id FROM apflow_tree_leases l JOIN g USING (tree_id, token)
				WHERE l.node_id = $1 ORDER BY l.tree_id FOR UPDATE OF l),
			renewed AS (
				UPDATE apflow_tree_leases l SET expires_at = clock_timestamp() + make_interval(secs => $3),
					tasks = g.tasks, finished = g.finished
				FROM mine, g WHERE l.tree_id = mine.tree_id AND g.tree_id = mine.tree_id
				RETURNING l.token)
			SELECT coalesce(array_agg(token), '{}') FROM renewed`,
			n.id, len(claimed), n.lease.Seconds(), trees, tokens, tasks, finished,
			n.version, SchemaVersion(), n.concurrency).Scan(&heldTrees)
		if err != nil {
			return err
		}
		for _, i := range missing(tokens, heldTrees) {
			lost.Trees = append(lost.Trees, cluster.LeaseRef{TreeID: runs[i].TreeID, Token: runs[i].Token})
		}
		// Only the claims still executing here are renewed: a claim whose outcome could
		// not be written expires, and its task runs again elsewhere.
		err = n.s.pool.QueryRow(ctx, `WITH mine AS (
				SELECT c.task_id FROM apflow_claims c
				JOIN unnest($3::text[], $4::bigint[]) AS g(task_id, token) USING (task_id, token)
				WHERE c.node_id = $1 ORDER BY c.task_id FOR UPDATE OF c),
			renewed AS (
				UPDATE apflow_claims c SET expires_at = clock_timestamp() + make_interval(secs => $2)
				FROM mine WHERE c.task_id = mine.task_id RETURNING c.token)
			SELECT coalesce(array_agg(token), '{}') FROM renewed`, n.id, n.lease.Seconds(), ids, claimTokens).Scan(&heldClaims)
		for _, i := range missing(claimTokens, heldClaims) {
			lost.Claims = append(lost.Claims, claimed[i])
		}
		return err
	})
	if err != nil {
		return cluster.Lost{}, fmt.Errorf("heartbeat of node %s: %w", n.id, err)
	}
	return lost, nil
}

// missing returns the indexes of the tokens in want that are not in have (tokens are
// unique: each comes from the fence sequence).
func missing(want, have []int64) []int {
	in := make(map[int64]bool, len(have))
	for _, h := range have {
		in[h] = true
	}
	var out []int
	for i, w := range want {
		if !in[w] {
			out = append(out, i)
		}
	}
	return out
}

// Leave implements cluster.Driver.
func (n *Node) Leave(ctx context.Context) error {
	defer func() {
		n.stop()
		n.wg.Wait()
	}()
	return n.s.use(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue("DELETE FROM apflow_tree_leases WHERE node_id = $1", n.id)
		b.Queue("DELETE FROM apflow_nodes WHERE node_id = $1", n.id)
		b.Queue("DELETE FROM apflow_follows WHERE node_id = $1", n.id)
		b.Queue("DELETE FROM apflow_event_inbox WHERE node_id = $1", n.id)
		b.Queue("COMMIT")
		if err := n.s.pool.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("node %s leaving the cluster: %w", n.id, err)
		}
		return nil
	})
}
