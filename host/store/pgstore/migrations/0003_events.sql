-- Schema version 3: run events across the nodes of a cluster (docs/cluster.md).
--
-- A node whose clients follow a run (an SSE stream, a webhook) records it here; a node
-- publishing an event of that run writes it to the follower's inbox. root_id '' is not
-- used: following every run stays node-local.
CREATE TABLE apflow_follows (
    node_id text NOT NULL,
    root_id text NOT NULL,
    PRIMARY KEY (node_id, root_id)
);
CREATE INDEX apflow_follows_root ON apflow_follows (root_id);

-- Events on their way to a node, which deletes them once it has published them (in its
-- next read). Rows of a node that died are dropped when it joins again or after an hour.
CREATE TABLE apflow_event_inbox (
    seq     bigserial   PRIMARY KEY,
    node_id text        NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    body    bytea       NOT NULL
);
CREATE INDEX apflow_event_inbox_node ON apflow_event_inbox (node_id, seq);
CREATE INDEX apflow_event_inbox_sent ON apflow_event_inbox (sent_at);
