-- Schema version 1: tasks and their dependency edges.
--
-- body is the task's wire form (task.Task's JSON), the one source of truth; the other
-- columns are copies of the fields the store filters and orders on, written in the same
-- statement as body. Empty optional strings are NULL. json (not jsonb) keeps the text
-- exactly as written, so a task reads back byte for byte (numbers keep their spelling).
CREATE TABLE apflow_tasks (
    id         text        PRIMARY KEY,
    parent_id  text,
    tree_id    text,
    user_id    text,
    status     text        NOT NULL
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    priority   integer     NOT NULL,
    seq        bigint      NOT NULL,
    created_at timestamptz,
    -- the root carries a run marker (task.Task.Run): a run of its tree has not ended
    run_active boolean     NOT NULL DEFAULT false,
    body       json        NOT NULL
) WITH (fillfactor = 80); -- room on each page for updates that change no indexed column (HOT)

-- List's order is created_at, then seq, descending, then id; each index below that serves
-- List carries it, so a page is read in index order.
CREATE INDEX apflow_tasks_newest ON apflow_tasks (created_at DESC NULLS LAST, seq DESC, id);
CREATE INDEX apflow_tasks_roots ON apflow_tasks (created_at DESC NULLS LAST, seq DESC, id)
    WHERE parent_id IS NULL;
CREATE INDEX apflow_tasks_status ON apflow_tasks (status, created_at DESC NULLS LAST, seq DESC, id);
CREATE INDEX apflow_tasks_user ON apflow_tasks (user_id, created_at DESC NULLS LAST, seq DESC, id)
    WHERE user_id IS NOT NULL;
-- Tree: submission order. Children: execution order.
CREATE INDEX apflow_tasks_tree ON apflow_tasks (tree_id, seq, id) WHERE tree_id IS NOT NULL;
CREATE INDEX apflow_tasks_parent ON apflow_tasks (parent_id, priority, seq, id)
    WHERE parent_id IS NOT NULL;
-- Roots whose tree has a run that did not end: what recovery and a node taking over a
-- tree look for. Small: only roots with a marker are in it.
CREATE INDEX apflow_tasks_runs ON apflow_tasks (id) WHERE run_active;

-- One row per entry of a task's dependencies (duplicates once). dependency_id may name a
-- task that does not exist, so it has no foreign key; task_id does, and edges go with
-- their task.
CREATE TABLE apflow_task_dependencies (
    dependency_id text NOT NULL,
    task_id       text NOT NULL REFERENCES apflow_tasks (id) ON DELETE CASCADE,
    PRIMARY KEY (dependency_id, task_id)
);
CREATE INDEX apflow_task_dependencies_task ON apflow_task_dependencies (task_id);
