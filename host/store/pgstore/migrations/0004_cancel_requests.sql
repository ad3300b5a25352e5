-- Schema version 4: cancels made through another node go to the tree's coordinator as
-- requests in its settled feed (docs/cluster.md). cancel_message is NULL for a settled
-- task, and the cancel's message for a request to cancel the task; cancel_token is the
-- token of the tree lease the request was made under: a later run of the tree (a new
-- lease, not a takeover) ignores it.
ALTER TABLE apflow_settled ADD COLUMN cancel_message text, ADD COLUMN cancel_token bigint;
