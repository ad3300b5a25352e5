package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.TaskLogs = (*Store)(nil)

// Tasks' log lines (store.TaskLogs) are rows of apflow_task_logs; apflow_task_log_heads
// holds each task's next seq, line count and bytes (octet_length of the messages),
// locked and updated by every append (migrations/0010_task_logs.sql).

// AppendLogs implements store.TaskLogs: one transaction that locks the task's head,
// inserts the lines, deletes the oldest that no longer fit and saves the head.
func (s *Store) AppendLogs(ctx context.Context, taskID string, lines []store.LogLine, b store.LogBounds) (int64, error) {
	lines, err := store.CheckLogAppend(taskID, lines, b)
	if err != nil {
		return 0, err
	}
	var first int64
	err = s.use(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var next, n, bytes int64
			err := tx.QueryRow(ctx, `INSERT INTO apflow_task_log_heads (task_id, next_seq, lines, bytes) VALUES ($1, 1, 0, 0)
				ON CONFLICT (task_id) DO UPDATE SET next_seq = apflow_task_log_heads.next_seq
				RETURNING next_seq, lines, bytes`, taskID).Scan(&next, &n, &bytes)
			if err != nil {
				return fmt.Errorf("lock the log head of task %s: %w", taskID, err)
			}
			first = next
			rows := make([][]any, len(lines))
			for i, l := range lines {
				rows[i] = []any{taskID, next + int64(i), l.Time, l.Attempt, l.Source, l.Level, l.Message}
				n++
				bytes += l.Size()
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"apflow_task_logs"},
				[]string{"task_id", "seq", "at", "attempt", "source", "level", "message"}, pgx.CopyFromRows(rows)); err != nil {
				return fmt.Errorf("write the log lines of task %s: %w", taskID, err)
			}
			next += int64(len(lines))
			if n > int64(b.MaxLines) || bytes > b.MaxBytes {
				// Delete the oldest lines: those with more than MaxLines lines or MaxBytes
				// bytes at or after them.
				var gone, freed int64
				err := tx.QueryRow(ctx, `WITH kept AS (
						SELECT seq, row_number() OVER w AS k, sum(octet_length(message)) OVER w AS b
						FROM apflow_task_logs WHERE task_id = $1 WINDOW w AS (ORDER BY seq DESC)),
					cut AS (SELECT coalesce(max(seq), 0) AS seq FROM kept WHERE k > $2 OR b > $3),
					gone AS (DELETE FROM apflow_task_logs WHERE task_id = $1 AND seq <= (SELECT seq FROM cut)
						RETURNING octet_length(message) AS n)
					SELECT count(*), coalesce(sum(n), 0) FROM gone`, taskID, b.MaxLines, b.MaxBytes).Scan(&gone, &freed)
				if err != nil {
					return fmt.Errorf("trim the log of task %s: %w", taskID, err)
				}
				n, bytes = n-gone, bytes-freed
			}
			if _, err := tx.Exec(ctx, `UPDATE apflow_task_log_heads SET next_seq = $2, lines = $3, bytes = $4 WHERE task_id = $1`,
				taskID, next, n, bytes); err != nil {
				return fmt.Errorf("save the log head of task %s: %w", taskID, err)
			}
			return nil
		})
	})
	return first, err
}

// Logs implements store.TaskLogs.
func (s *Store) Logs(ctx context.Context, taskID string, after int64, limit int) ([]store.LogLine, bool, error) {
	if err := store.CheckLogRead(taskID, after, limit); err != nil {
		return nil, false, err
	}
	var out []store.LogLine
	err := s.use(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT seq, at, attempt, source, level, message FROM apflow_task_logs
			WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, taskID, after, limit+1)
		if err != nil {
			return fmt.Errorf("read the logs of task %s: %w", taskID, err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.LogLine, error) {
			var l store.LogLine
			err := r.Scan(&l.Seq, &l.Time, &l.Attempt, &l.Source, &l.Level, &l.Message)
			l.Time = l.Time.UTC()
			return l, err
		})
		if err != nil {
			return fmt.Errorf("read the logs of task %s: %w", taskID, err)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// deleteLogs deletes the lines and heads of tasks ids in tx: the heads first, as an
// append locks its task's head before its lines, so that the two wait for each other
// instead of deadlocking, and the lines' delete sees those of an append it waited for.
func deleteLogs(ctx context.Context, tx pgx.Tx, ids []string) error {
	for _, q := range []string{
		`DELETE FROM apflow_task_log_heads WHERE task_id = ANY($1)`,
		`DELETE FROM apflow_task_logs WHERE task_id = ANY($1)`,
	} {
		if _, err := tx.Exec(ctx, q, ids); err != nil {
			return fmt.Errorf("delete the logs of tasks %v: %w", ids, err)
		}
	}
	return nil
}
