-- Schema version 8: scheduled tasks (store.Schedules).
--
-- Copies of the schedule fields of body, written in the same statement as body like the
-- other columns: next_run_at (NULL when none), schedule_type (NULL when none) and
-- schedule_enabled.
ALTER TABLE apflow_tasks
    ADD COLUMN next_run_at      timestamptz,
    ADD COLUMN schedule_type    text,
    ADD COLUMN schedule_enabled boolean NOT NULL DEFAULT false;

-- Tasks stored before this version: copy their schedules out of body.
UPDATE apflow_tasks SET
    next_run_at = (body->>'next_run_at')::timestamptz,
    schedule_type = body->>'schedule_type',
    schedule_enabled = coalesce((body->>'schedule_enabled')::boolean, false)
WHERE body->>'schedule_type' IS NOT NULL;

-- Due: the armed schedules (enabled, with a type and a next run), oldest first. Small:
-- only those are in it.
CREATE INDEX apflow_tasks_due ON apflow_tasks (next_run_at, id)
    WHERE schedule_enabled AND schedule_type IS NOT NULL AND next_run_at IS NOT NULL;
-- Scheduled: every task with a schedule, next run first, none last.
CREATE INDEX apflow_tasks_scheduled ON apflow_tasks (next_run_at ASC NULLS LAST, id)
    WHERE schedule_type IS NOT NULL;
