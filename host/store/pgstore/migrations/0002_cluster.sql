-- Schema version 2: what several nodes sharing the database need (docs/cluster.md).
--
-- Every lease carries a fencing token from apflow_fence: a write that depends on a lease
-- checks, in its own transaction, that the lease still has the token it was given, so a
-- node that lost a lease (paused, partitioned) can never overwrite what another wrote.
CREATE SEQUENCE apflow_fence;

-- One row per live node; heartbeat_at is renewed every heartbeat interval.
CREATE TABLE apflow_nodes (
    node_id        text        PRIMARY KEY,
    started_at     timestamptz NOT NULL DEFAULT now(),
    heartbeat_at   timestamptz NOT NULL DEFAULT now(),
    version        text        NOT NULL,
    schema_version integer     NOT NULL,
    concurrency    integer     NOT NULL,
    executing      integer     NOT NULL DEFAULT 0
);

-- The node coordinating each running tree (dependency settling, injection, blocking,
-- root-last, tree hooks). A lease past expires_at may be taken over by any node. The
-- gauges are the owner's, refreshed with each heartbeat.
CREATE TABLE apflow_tree_leases (
    tree_id    text        PRIMARY KEY,
    root_id    text        NOT NULL,
    node_id    text        NOT NULL,
    token      bigint      NOT NULL,
    expires_at timestamptz NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    tasks      bigint      NOT NULL DEFAULT 0,
    finished   bigint      NOT NULL DEFAULT 0
);
CREATE INDEX apflow_tree_leases_node ON apflow_tree_leases (node_id);

-- Tasks ready to run (node_id NULL: queued, claimable by any node) or claimed by a node
-- that executes them until expires_at, renewed while it runs. priority and seq are the
-- task's: claims are taken in priority order, then submission order, cluster-wide.
CREATE TABLE apflow_claims (
    task_id    text        PRIMARY KEY REFERENCES apflow_tasks (id) ON DELETE CASCADE,
    tree_id    text        NOT NULL,
    root_id    text        NOT NULL,
    priority   integer     NOT NULL,
    seq        bigint      NOT NULL,
    node_id    text,
    token      bigint,
    expires_at timestamptz
);
CREATE INDEX apflow_claims_queued ON apflow_claims (priority, seq, task_id) WHERE node_id IS NULL;
CREATE INDEX apflow_claims_node ON apflow_claims (node_id) WHERE node_id IS NOT NULL;
CREATE INDEX apflow_claims_expiry ON apflow_claims (expires_at) WHERE node_id IS NOT NULL;
CREATE INDEX apflow_claims_tree ON apflow_claims (tree_id);

-- Terminal transitions written by a node other than the tree's coordinator (a claimed
-- task's outcome, a cancel): the coordinator reads its tree's rows in seq order. Rows of
-- a tree are deleted when its run ends.
CREATE TABLE apflow_settled (
    seq     bigserial PRIMARY KEY,
    tree_id text      NOT NULL,
    task_id text      NOT NULL
);
CREATE INDEX apflow_settled_tree ON apflow_settled (tree_id, seq);
