-- Schema version 5: each node records its lease interval, so that whoever reads the
-- cluster's state (apflow cluster status, other nodes) judges each node's liveness by
-- its own lease. NULL for nodes of releases before this version.
ALTER TABLE apflow_nodes ADD COLUMN lease_seconds double precision;
