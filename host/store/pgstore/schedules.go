package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

var _ store.Schedules = (*Store)(nil)

// armed is the condition of store.Armed on the columns, the predicate of the index
// apflow_tasks_due (migrations/0008_schedules.sql), which serves Due.
const armed = "schedule_enabled AND schedule_type IS NOT NULL AND next_run_at IS NOT NULL"

// Due implements store.Schedules, from the index apflow_tasks_due.
func (s *Store) Due(ctx context.Context, q store.DueQuery) ([]*task.Task, error) {
	limit, _ := store.PageBounds(q.Limit, 0)
	conds := []string{armed, "next_run_at <= $1"}
	args := []any{q.Before.UTC()}
	if q.UserID != "" {
		args = append(args, q.UserID)
		conds = append(conds, "user_id = $"+strconv.Itoa(len(args)))
	}
	if q.Idle {
		conds = append(conds, "status <> 'in_progress'")
	}
	args = append(args, limit)
	sql := fmt.Sprintf("SELECT id, body FROM apflow_tasks WHERE %s ORDER BY next_run_at, id LIMIT $%d",
		strings.Join(conds, " AND "), len(args))
	return s.tasks(ctx, sql, args...)
}

// Scheduled implements store.Schedules, from the index apflow_tasks_scheduled. The page
// and the total come from one statement.
func (s *Store) Scheduled(ctx context.Context, q store.ScheduleQuery) ([]*task.Task, int, error) {
	limit, offset := store.PageBounds(q.Limit, q.Offset)
	conds := []string{"schedule_type IS NOT NULL"}
	var args []any
	eq := func(col, v string) {
		if v != "" {
			args = append(args, v)
			conds = append(conds, col+" = $"+strconv.Itoa(len(args)))
		}
	}
	eq("user_id", q.UserID)
	eq("schedule_type", q.Type)
	eq("status", string(q.Status))
	if q.EnabledOnly {
		conds = append(conds, "schedule_enabled")
	}
	cond := strings.Join(conds, " AND ")
	n := len(args)
	args = append(args, limit, offset)
	sql := fmt.Sprintf(`SELECT c.total, p.id, p.body
		FROM (SELECT count(*) AS total FROM apflow_tasks WHERE %[1]s) AS c
		LEFT JOIN LATERAL (
			SELECT id, body, next_run_at FROM apflow_tasks WHERE %[1]s
			ORDER BY next_run_at ASC NULLS LAST, id LIMIT $%[2]d OFFSET $%[3]d
		) AS p ON true
		ORDER BY p.next_run_at ASC NULLS LAST, p.id`, cond, n+1, n+2)
	return s.page(ctx, "list scheduled tasks", sql, args)
}
