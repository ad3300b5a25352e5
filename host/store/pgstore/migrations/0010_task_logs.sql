-- Schema version 10: tasks' log lines (store.TaskLogs, docs/decisions.md §18). Lines are
-- kept per task id; seq numbers them from 1 and is never reused for the task (the head's
-- next_seq). No foreign key to apflow_tasks: the engine deletes the lines with the task.
CREATE TABLE apflow_task_logs (
    task_id text COLLATE "C" NOT NULL,
    seq     bigint           NOT NULL,
    at      timestamptz      NOT NULL,
    attempt integer          NOT NULL,
    source  text             NOT NULL,
    level   text             NOT NULL,
    message text             NOT NULL,
    PRIMARY KEY (task_id, seq)
);

-- What each task's log holds. Every append locks its task's row first and updates it in
-- the same transaction: appends of one task are serialized and the trim is exact.
CREATE TABLE apflow_task_log_heads (
    task_id  text COLLATE "C" NOT NULL PRIMARY KEY,
    next_seq bigint           NOT NULL,
    lines    bigint           NOT NULL,
    bytes    bigint           NOT NULL
);
