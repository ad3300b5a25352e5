package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// newestFirst is List's order: created_at, then seq, descending, then id (the order of
// the indexes that serve List).
const newestFirst = "created_at DESC NULLS LAST, seq DESC, id"

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*task.Task, error) {
	var t *task.Task
	err := s.use(ctx, func() error {
		var body []byte
		err := s.pool.QueryRow(ctx, "SELECT body FROM apflow_tasks WHERE id = $1", id).Scan(&body)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.NotFound(id)
		}
		if err != nil {
			return fmt.Errorf("read task %s: %w", id, err)
		}
		t, err = decode(id, body)
		return err
	})
	return t, err
}

// Children implements store.Store: by priority, then seq, then id.
func (s *Store) Children(ctx context.Context, parentID string) ([]*task.Task, error) {
	return s.tasks(ctx, "SELECT id, body FROM apflow_tasks WHERE parent_id = $1 ORDER BY priority, seq, id", parentID)
}

// Tree implements store.Store: by seq, then id.
func (s *Store) Tree(ctx context.Context, treeID string) ([]*task.Task, error) {
	return s.tasks(ctx, "SELECT id, body FROM apflow_tasks WHERE tree_id = $1 ORDER BY seq, id", treeID)
}

// Dependents implements store.Store: in submission order (seq, then id).
func (s *Store) Dependents(ctx context.Context, id string) ([]*task.Task, error) {
	return s.tasks(ctx, `SELECT t.id, t.body FROM apflow_task_dependencies d
		JOIN apflow_tasks t ON t.id = d.task_id
		WHERE d.dependency_id = $1 ORDER BY t.seq, t.id`, id)
}

// tasks runs a query of (id, body) rows and decodes them, in order.
func (s *Store) tasks(ctx context.Context, sql string, args ...any) ([]*task.Task, error) {
	out := []*task.Task{}
	err := s.use(ctx, func() error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("read tasks: %w", err)
		}
		var id string
		var body []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &body}, func() error {
			t, err := decode(id, body)
			if err == nil {
				out = append(out, t)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("read tasks: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// methodExpr is task.Task.Method in SQL: params.executor_id when it is a non-empty
// string, else schemas.method when it is a string, else the empty string.
const methodExpr = `(CASE
	WHEN json_typeof(body->'params'->'executor_id') = 'string' AND body->'params'->>'executor_id' <> ''
		THEN body->'params'->>'executor_id'
	WHEN json_typeof(body->'schemas'->'method') = 'string' THEN body->'schemas'->>'method'
	ELSE '' END)`

// where returns the condition selecting the tasks of f (Limit and Offset aside) and its
// arguments, numbered from $1. Every value is an argument, never SQL text. Method and
// Name read body (not indexed): the other conditions narrow the rows first.
func where(f store.Filter) (string, []any) {
	var conds []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			args = append(args, v)
			conds = append(conds, col+" = $"+strconv.Itoa(len(args)))
		}
	}
	eq("status", string(f.Status))
	eq("user_id", f.UserID)
	eq("tree_id", f.TreeID)
	eq("parent_id", f.ParentID)
	if f.RootOnly {
		conds = append(conds, "parent_id IS NULL")
	}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !f.CreatedAfter.IsZero() {
		conds = append(conds, "created_at >= "+arg(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		conds = append(conds, "created_at < "+arg(f.CreatedBefore))
	}
	if f.Method != "" {
		conds = append(conds, methodExpr+" = "+arg(f.Method))
	}
	if f.Name != "" {
		n := arg(f.Name)
		conds = append(conds, "(id = "+n+" OR position(lower("+n+"::text) in lower(body->>'name')) > 0)")
	}
	if len(conds) == 0 {
		return "true", nil
	}
	return strings.Join(conds, " AND "), args
}

// List implements store.Store. The page and the total come from one statement, so they
// agree with each other whatever other writers do.
func (s *Store) List(ctx context.Context, f store.Filter) ([]*task.Task, int, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	cond, args := where(f)
	n := len(args)
	args = append(args, limit, max(f.Offset, 0))
	sql := fmt.Sprintf(`SELECT c.total, p.id, p.body
		FROM (SELECT count(*) AS total FROM apflow_tasks WHERE %[1]s) AS c
		LEFT JOIN LATERAL (
			SELECT id, body, created_at, seq FROM apflow_tasks WHERE %[1]s
			ORDER BY %[2]s LIMIT $%[3]d OFFSET $%[4]d
		) AS p ON true
		ORDER BY p.created_at DESC NULLS LAST, p.seq DESC, p.id`, cond, newestFirst, n+1, n+2)
	return s.page(ctx, "list tasks", sql, args)
}

// page runs a statement returning the total, then (id, body) of one page's tasks (id
// null on the total's row alone when the page is empty), and decodes the page.
func (s *Store) page(ctx context.Context, what, sql string, args []any) ([]*task.Task, int, error) {
	page := []*task.Task{}
	total := 0
	err := s.use(ctx, func() error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		var id *string
		var body []byte
		_, err = pgx.ForEachRow(rows, []any{&total, &id, &body}, func() error {
			if id == nil { // no task on this page: the count's row alone
				return nil
			}
			t, err := decode(*id, body)
			if err == nil {
				page = append(page, t)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return page, total, nil
}

// CountByStatus implements store.Store: one statement, one snapshot.
func (s *Store) CountByStatus(ctx context.Context, f store.Filter) (map[task.Status]int, error) {
	f.Status = ""
	cond, args := where(f)
	out := map[task.Status]int{}
	err := s.use(ctx, func() error {
		rows, err := s.pool.Query(ctx, "SELECT status, count(*) FROM apflow_tasks WHERE "+cond+" GROUP BY status", args...)
		if err != nil {
			return fmt.Errorf("count tasks by status: %w", err)
		}
		var st string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error {
			out[task.Status(st)] = n
			return nil
		})
		if err != nil {
			return fmt.Errorf("count tasks by status: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Count implements store.Store.
func (s *Store) Count(ctx context.Context, f store.Filter) (int, error) {
	cond, args := where(f)
	var n int
	err := s.use(ctx, func() error {
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM apflow_tasks WHERE "+cond, args...).Scan(&n); err != nil {
			return fmt.Errorf("count tasks: %w", err)
		}
		return nil
	})
	return n, err
}
