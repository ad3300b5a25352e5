-- Schema version 9: plugins' key-value entries (docs/kv.md, docs/decisions.md §17): one space per user
-- (scope, "" without one) and plugin id. Keys sort bytewise (COLLATE "C"), as in the
-- other backends. expires_at NULL means never.
CREATE TABLE apflow_kv (
    scope      text COLLATE "C" NOT NULL,
    plugin     text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    value      bytea            NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (scope, plugin, key)
);

-- PurgeKV deletes by expiry.
CREATE INDEX apflow_kv_expiry ON apflow_kv (expires_at) WHERE expires_at IS NOT NULL;

-- What each space holds (every stored entry, expired ones not yet purged included).
-- Every write of an entry locks its space's row first and updates it in the same
-- transaction: writes of one space are serialized and the quota check is exact.
CREATE TABLE apflow_kv_usage (
    scope  text COLLATE "C" NOT NULL,
    plugin text COLLATE "C" NOT NULL,
    bytes  bigint           NOT NULL,
    keys   bigint           NOT NULL,
    PRIMARY KEY (scope, plugin)
);
