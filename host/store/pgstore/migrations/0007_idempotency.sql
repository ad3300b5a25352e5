-- Idempotency keys (docs/decisions.md §14): a client's key, per scope (the user), names
-- the tree its first submission created. The row is inserted in the transaction that
-- stores the tree, so a key never names a tree that is not stored, and the primary key
-- makes one of two concurrent submissions with one key wait for the other and fail.
-- No foreign key to the tree: a deleted tree keeps its key until the key expires.
CREATE TABLE apflow_idempotency_keys (
    scope      text        NOT NULL,
    key        text        NOT NULL,
    digest     text        NOT NULL,
    root_id    text        NOT NULL,
    tree_id    text        NOT NULL,
    task_count integer     NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);

-- PurgeKeys deletes by expiry.
CREATE INDEX apflow_idempotency_keys_expiry ON apflow_idempotency_keys (expires_at);
