package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/apflow-wasm/apflow/host/cluster"
)

// clusterSchemaVersion is the first schema version with the cluster's tables.
const clusterSchemaVersion = 2

// readSchemaSQL reads the schema version and the database's clock.
const readSchemaSQL = "SELECT coalesce(max(version), 0), now() FROM apflow_schema_version"

// Status reads the cluster's state (cluster.Status): nodes, runs, queued and claimed
// tasks. It only reads. A node is alive when it heartbeated within its own lease
// interval.
func (n *Node) Status(ctx context.Context) (cluster.Status, error) {
	var st cluster.Status
	err := n.s.use(ctx, func() error {
		return n.s.pool.QueryRow(ctx, readSchemaSQL).Scan(&st.SchemaVersion, &st.ReadAt)
	})
	if err != nil {
		return st, fmt.Errorf("cluster status: read the schema version: %w", err)
	}
	return n.status(ctx, st)
}

// status fills st with the nodes, runs and claim counts.
func (n *Node) status(ctx context.Context, st cluster.Status) (cluster.Status, error) {
	var err error
	if st.Nodes, err = n.Nodes(ctx); err != nil {
		return st, err
	}
	if st.Runs, err = n.Runs(ctx); err != nil {
		return st, err
	}
	err = n.s.use(ctx, func() error {
		return n.s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE node_id IS NULL),
			count(*) FILTER (WHERE node_id IS NOT NULL) FROM apflow_claims`).Scan(&st.Queued, &st.Claimed)
	})
	if err != nil {
		return st, fmt.Errorf("cluster status: count claims: %w", err)
	}
	return st, nil
}

// ReadStatus connects to the database at dsn and reads its cluster's state without
// joining the cluster and without migrating the schema: it changes nothing. lease
// (DefaultLease if not positive) is the lease interval of the nodes that did not record
// their own (releases before schema version 5): it decides whether they count as alive. It fails with an error matching ErrSchemaTooNew
// when the schema is newer than this binary knows, and with a clear error when the
// database has no apflow schema or one older than the cluster's tables.
func ReadStatus(ctx context.Context, dsn string, lease time.Duration) (cluster.Status, error) {
	var st cluster.Status
	if dsn == "" {
		return st, errors.New("cluster status: the PostgreSQL connection string is required")
	}
	if lease <= 0 {
		lease = DefaultLease
	}
	where := Redact(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the connection string: say only where.
		return st, fmt.Errorf("cluster status: invalid PostgreSQL connection string %s", where)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return st, fmt.Errorf("cluster status %s: %w", where, err)
	}
	defer pool.Close()
	err = pool.QueryRow(ctx, readSchemaSQL).Scan(&st.SchemaVersion, &st.ReadAt)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		return st, fmt.Errorf("cluster status %s: the database has no apflow schema: no node ever ran on it", where)
	case err != nil:
		return st, fmt.Errorf("cluster status %s: read the schema version: %w", where, err)
	case st.SchemaVersion > SchemaVersion():
		return st, fmt.Errorf("cluster status %s: %w", where, &tooNewError{db: st.SchemaVersion, known: SchemaVersion()})
	case st.SchemaVersion < clusterSchemaVersion:
		return st, fmt.Errorf("cluster status %s: the database schema is at version %d, before the cluster's tables (version %d): no cluster node ran on it yet",
			where, st.SchemaVersion, clusterSchemaVersion)
	}
	// A Store without a committer: the Node's read-only queries need only the pool.
	n := &Node{s: &Store{pool: pool, opts: Options{DSN: dsn, Now: time.Now}}, lease: lease, schema: st.SchemaVersion}
	st, err = n.status(ctx, st)
	if err != nil {
		return st, fmt.Errorf("%s: %w", where, err)
	}
	return st, nil
}
