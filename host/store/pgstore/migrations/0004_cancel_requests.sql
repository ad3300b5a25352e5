-- Schema version 4: cancels made through another node go to the tree's coordinator as
-- requests in its settled feed (docs/cluster.md): cancel_message is NULL for a settled
-- task, and the cancel's message for a request to cancel the task.
ALTER TABLE apflow_settled ADD COLUMN cancel_message text;
