-- Plugins shared by the nodes of a cluster (docs/cluster.md, "Plugins").
--
-- A module's bytes are stored once, keyed by their sha256 (hex, the hash the sandbox
-- reports): a blob is written once and never changed, so a node that reads a blob
-- checks its bytes against the key and needs nothing else to trust them.
CREATE TABLE apflow_plugin_blobs (
    sha256     text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    wasm       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every change of the shared plugins takes the next number, so "what changed" is an
-- order even between changes committed in the same instant.
CREATE SEQUENCE apflow_plugin_changes;

-- The current version of each shared plugin id. A removal keeps the row as a tombstone
-- (removed, sha256 still the last version's), so every node learns it, including nodes
-- that were down when it happened. changed_by is the node that made the change.
CREATE TABLE apflow_plugins (
    plugin_id  text        PRIMARY KEY,
    sha256     text        NOT NULL REFERENCES apflow_plugin_blobs (sha256),
    removed    boolean     NOT NULL DEFAULT false,
    change     bigint      NOT NULL,
    changed_by text        NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
