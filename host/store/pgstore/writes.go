package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Update implements store.Store through the committer (see committer.go).
func (s *Store) Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error) {
	j := &job{muts: []store.Mutation{{ID: id, Fn: fn}}}
	if err := s.submit(ctx, j); err != nil {
		return nil, err
	}
	return j.out[0], nil
}

// UpdateMany implements store.Store through the committer. It returns one task per
// mutation, in order: the task as it was after that mutation.
func (s *Store) UpdateMany(ctx context.Context, muts []store.Mutation) ([]*task.Task, error) {
	if len(muts) == 0 {
		return []*task.Task{}, s.admit(ctx)
	}
	j := &job{muts: muts}
	if err := s.submit(ctx, j); err != nil {
		return nil, err
	}
	return j.out, nil
}

// Create implements store.Store: the tasks and their dependency edges are copied into
// their tables (COPY) in one transaction, whatever their number.
func (s *Store) Create(ctx context.Context, tasks []*task.Task) error {
	if len(tasks) == 0 {
		return s.admit(ctx)
	}
	return s.create(ctx, nil, tasks)
}

// create stores tasks and, when key is not nil, records it first in the same
// transaction (see CreateKeyed).
func (s *Store) create(ctx context.Context, key *store.KeyRecord, tasks []*task.Task) error {
	rows, err := createRows(tasks)
	if err != nil {
		return err
	}
	var edges [][]any
	for _, t := range tasks {
		for _, d := range dependencyIDs(t) {
			edges = append(edges, []any{d, t.ID})
		}
	}
	return s.use(ctx, func() error {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if key != nil {
				if err := recordKey(ctx, tx, *key); err != nil {
					return err
				}
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"apflow_tasks"}, taskColumns, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
			if len(edges) > 0 {
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{"apflow_task_dependencies"},
					[]string{"dependency_id", "task_id"}, pgx.CopyFromRows(edges)); err != nil {
					return err
				}
			}
			return nil
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "apflow_tasks" {
			return s.existing(ctx, tasks, err)
		}
		if err != nil {
			return fmt.Errorf("create %d tasks: %w", len(tasks), err)
		}
		return nil
	})
}

// createRows checks a submission (store.EncodeNew) and encodes it as COPY rows.
func createRows(tasks []*task.Task) ([][]any, error) {
	return store.EncodeNew(tasks, func(t *task.Task) ([]any, error) {
		r, err := encode(t)
		if err != nil {
			return nil, err
		}
		return r.values(), nil
	})
}

// existing returns store.Exists for the first task of tasks (in submission order) that
// is stored, after a Create failed with a duplicate key (cause).
func (s *Store) existing(ctx context.Context, tasks []*task.Task, cause error) error {
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	var id string
	err := s.pool.QueryRow(ctx, `SELECT u.id FROM unnest($1::text[]) WITH ORDINALITY AS u(id, n)
		JOIN apflow_tasks t ON t.id = u.id ORDER BY u.n LIMIT 1`, ids).Scan(&id)
	if err != nil {
		// Deleted again meanwhile, or the query failed: report the conflict as it came.
		return fmt.Errorf("create %d tasks: %w", len(tasks), cause)
	}
	return store.Exists(id)
}

// Delete implements store.Store. Deleting an id that does not exist fails with
// TaskNotFound and deletes nothing. The tasks are locked first, so an Update racing with
// the Delete either commits before it or finds the task gone.
func (s *Store) Delete(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return s.admit(ctx)
	}
	return s.use(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// The tasks and their parents are locked first, in one statement in id order
			// (as the committer locks its rows): two Deletes of a parent's last children
			// then take turns, and the second sees the first's rows gone when it looks
			// for parents left without a child (clearEmptiedParents).
			if _, err := tx.Exec(ctx, `SELECT 1 FROM apflow_tasks
				WHERE id = ANY($1) OR id IN (SELECT parent_id FROM apflow_tasks WHERE id = ANY($1))
				ORDER BY id FOR UPDATE`, ids); err != nil {
				return fmt.Errorf("delete tasks: lock them and their parents: %w", err)
			}
			if err := checkDelete(ctx, tx, ids); err != nil {
				return err
			}
			if err := clearEmptiedParents(ctx, tx, ids); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "DELETE FROM apflow_tasks WHERE id = ANY($1)", ids); err != nil {
				return fmt.Errorf("delete tasks: %w", err)
			}
			return deleteLogs(ctx, tx, ids) // a task's lines go with it (store.TaskLogs)
		})
	})
}

// clearEmptiedParents stores with has_children false the parents that the Delete of ids
// (checked) leaves without a child: store.EmptiedParents' rule (stored, not deleted, no
// child outside ids), in one query that locks them. Each is decoded, changed and encoded
// as every write of a task is, so that its body keeps its text.
func clearEmptiedParents(ctx context.Context, tx pgx.Tx, ids []string) error {
	rows, err := tx.Query(ctx, `SELECT p.id, p.body::text FROM apflow_tasks p
		WHERE p.id IN (SELECT parent_id FROM apflow_tasks WHERE id = ANY($1)) AND NOT p.id = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM apflow_tasks c WHERE c.parent_id = p.id AND NOT c.id = ANY($1))
		ORDER BY p.id FOR UPDATE OF p`, ids)
	if err != nil {
		return fmt.Errorf("delete tasks: read their parents: %w", err)
	}
	var parents []*task.Task
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			rows.Close()
			return fmt.Errorf("delete tasks: read their parents: %w", err)
		}
		t, err := decode(id, []byte(body))
		if err != nil {
			rows.Close()
			return err
		}
		parents = append(parents, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("delete tasks: read their parents: %w", err)
	}
	for _, t := range parents {
		t.HasChildren = false
		r, err := encode(t)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE apflow_tasks SET body = $2 WHERE id = $1", t.ID, string(r.body)); err != nil {
			return fmt.Errorf("delete tasks: clear has_children of %s: %w", t.ID, err)
		}
	}
	return nil
}

// checkDelete locks the tasks of ids, reads what store.CheckDelete asks of them in one
// round trip, and refuses the Delete as store.CheckDelete rules.
func checkDelete(ctx context.Context, tx pgx.Tx, ids []string) error {
	found := map[string]bool{}
	child := map[string]string{}
	dependent := map[string]string{}
	var a, b string
	bt := &pgx.Batch{}
	bt.Queue("SELECT id, '' FROM apflow_tasks WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids).
		Query(collect(&a, &b, func() { found[a] = true }))
	bt.Queue(`SELECT DISTINCT ON (parent_id) parent_id, id FROM apflow_tasks
		WHERE parent_id = ANY($1) AND NOT id = ANY($1) ORDER BY parent_id, priority, seq, id`, ids).
		Query(collect(&a, &b, func() { child[a] = b }))
	bt.Queue(`SELECT DISTINCT ON (dependency_id) dependency_id, task_id FROM apflow_task_dependencies
		WHERE dependency_id = ANY($1) AND NOT task_id = ANY($1) ORDER BY dependency_id, task_id`, ids).
		Query(collect(&a, &b, func() { dependent[a] = b }))
	if err := tx.SendBatch(ctx, bt).Close(); err != nil {
		return fmt.Errorf("delete tasks: %w", err)
	}
	_, err := store.CheckDelete(ids, deleteGraph{found: found, child: child, dependent: dependent})
	return err
}

// deleteGraph is the store.DeleteGraph of a Delete, read beforehand for all its ids: the
// tasks found, and the first child and dependent outside the Delete of each.
type deleteGraph struct {
	found            map[string]bool
	child, dependent map[string]string
}

func (g deleteGraph) Exists(id string) (bool, error) { return g.found[id], nil }

func (g deleteGraph) ChildOutside(id string, _ map[string]bool) (string, error) {
	return g.child[id], nil
}

func (g deleteGraph) DependentOutside(id string, _ map[string]bool) (string, error) {
	return g.dependent[id], nil
}

// collect returns a batch row callback that scans two text columns into a and b and
// calls fn for each row.
func collect(a, b *string, fn func()) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{a, b}, func() error { fn(); return nil })
		return err
	}
}
