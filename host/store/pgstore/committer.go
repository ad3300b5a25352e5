package pgstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/groupcommit"
	"github.com/apflow-wasm/apflow/host/task"
)

// Group commit. Every Update and UpdateMany is a job of one groupcommit.Queue, whose
// rounds hold every job queued at that moment (up to MaxBatch). The committer runs each
// round in one transaction:
//
//  1. begin, lock the leases the round's cluster writes depend on (clusterwrites.go),
//     then the rows of every task the round touches (SELECT … ORDER BY id FOR UPDATE:
//     one statement, in id order, so two nodes' rounds cannot deadlock on each other);
//  2. apply the jobs in order, in Go, each to the state the jobs before it left
//     (store.Step: identity fields, task.CheckTransition). A job whose function or
//     check fails fails alone, leaving no trace;
//  3. write every changed task with one UPDATE … FROM unnest(arrays), and the dependency
//     edges of the tasks whose dependencies changed, in one round trip, then commit:
//     one WAL flush for the whole round.
//
// While a round waits for its commit, new jobs queue up and form the next round, so the
// round size follows the load. The row locks make each check atomic against every other
// writer of the database, other nodes included.

// job is the payload of one queued Update or UpdateMany.
type job struct {
	muts []store.Mutation
	out  []*task.Task // the task after each mutation, set when the job succeeds
	err  error        // the job's own failure in its round
	// cw are the cluster writes of the job (clusterwrites.go), made in the same round
	// if the job succeeds; nil for a plain Update or UpdateMany.
	cw *clusterWrite
}

// committer commits the rounds of its queue.
type committer struct {
	s     *Store
	queue *groupcommit.Queue[*job]

	rounds, jobs atomic.Int64 // committed rounds and the jobs they carried (benchmarks)
}

func newCommitter(s *Store, maxBatch int) *committer {
	c := &committer{s: s}
	c.queue = groupcommit.New(maxBatch, c.round)
	return c
}

// round runs the jobs of a round in one transaction and reports each job's outcome.
func (c *committer) round(taken []*groupcommit.Job[*job]) {
	jobs := make([]*job, len(taken))
	for i, t := range taken {
		jobs[i] = t.Payload
	}
	// The round is not the callers': a caller that gives up after its job was taken
	// still waits for the outcome, so no caller's context may cancel it.
	committed, err := c.commit(context.Background(), jobs)
	if err != nil {
		err = fmt.Errorf("task store commit: %w", err)
	}
	if committed > 0 {
		c.rounds.Add(1)
		c.jobs.Add(int64(committed))
	}
	for _, t := range taken {
		j := t.Payload
		if j.err == nil {
			j.err = err
		}
		if j.err != nil {
			j.out = nil
		}
		t.Finish(j.err)
	}
}

// entry is the state of one task during a round.
type entry struct {
	orig *task.Task // as locked
	cur  *task.Task // after the latest successful mutation (the decoded stored form)
	body []byte     // encoding of cur; nil while unchanged
}

// commit runs one round (see the top of this file) and returns how many jobs it
// committed. A job that fails alone has its err set; a returned error fails the others.
func (c *committer) commit(ctx context.Context, jobs []*job) (int, error) {
	var ids []string
	seen := map[string]bool{}
	for _, j := range jobs {
		for _, m := range j.muts {
			if !seen[m.ID] {
				seen[m.ID] = true
				ids = append(ids, m.ID)
			}
		}
	}
	conn, err := c.s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	// A connection released inside a transaction (the ROLLBACK failed) is discarded by
	// the pool.
	defer conn.Release()
	// Two round trips: BEGIN with the locking read, then the writes with COMMIT.
	open := true
	defer func() {
		if open {
			_, _ = conn.Exec(ctx, "ROLLBACK")
		}
	}()
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	leases := lockLeases(b, jobs)
	state := lockTasks(b, ids)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("lock tasks: %w", err)
	}
	now := c.s.now()
	ok := 0
	for _, j := range jobs {
		if j.err = leases.check(j); j.err == nil {
			j.err = apply(j, state, now)
		}
		if j.err == nil {
			ok++
		}
	}
	if ok == 0 {
		return 0, nil
	}
	b = writeBatch(ids, state)
	queueClusterWrites(b, jobs, leases)
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("write tasks: %w", err)
	}
	open = false
	return ok, nil
}

// lockTasks queues on b the locking read of the tasks with the given ids, in id order;
// the returned state is filled when b is sent.
func lockTasks(b *pgx.Batch, ids []string) map[string]*entry {
	state := make(map[string]*entry, len(ids))
	b.Queue("SELECT id, body FROM apflow_tasks WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids).
		Query(func(rows pgx.Rows) error {
			var id string
			var body []byte
			_, err := pgx.ForEachRow(rows, []any{&id, &body}, func() error {
				t, err := decode(id, body)
				if err != nil {
					return err
				}
				state[id] = &entry{orig: t, cur: t}
				return nil
			})
			return err
		})
	return state
}

// apply runs the mutations of j against state, in order. On success it records the new
// states in state and j.out; on failure it leaves state as it was.
func apply(j *job, state map[string]*entry, now time.Time) error {
	local := make(map[string]*entry, len(j.muts))
	out := make([]*task.Task, len(j.muts))
	for i, m := range j.muts {
		e := local[m.ID]
		if e == nil {
			base := state[m.ID]
			if base == nil {
				return store.NotFound(m.ID)
			}
			cp := *base
			e = &cp
			local[m.ID] = e
		}
		next, err := store.Step(e.cur, m.Fn, now)
		if err != nil {
			return err
		}
		r, err := encode(next)
		if err != nil {
			return err
		}
		// fn may keep next: the state and the caller get the decoded stored form.
		if e.cur, err = decode(m.ID, r.body); err != nil {
			return err
		}
		e.body = r.body
		out[i] = e.cur
	}
	for id, e := range local {
		state[id] = e
	}
	j.out = out
	return nil
}

// writeBatch returns the statements that write the tasks of state a job changed (ids
// gives the order), and the dependency edges of those whose dependencies changed.
func writeBatch(ids []string, state map[string]*entry) *pgx.Batch {
	var (
		upIDs, statuses, bodies []string
		priorities              []int32
		runs                    []bool
		nexts                   []pgtype.Timestamptz
		kinds                   []pgtype.Text
		enabled                 []bool
		depChanged              []string
		edgeDeps, edgeTasks     []string
	)
	for _, id := range ids {
		e := state[id]
		if e == nil || e.body == nil {
			continue
		}
		t := e.cur
		upIDs = append(upIDs, id)
		statuses = append(statuses, string(t.Status))
		priorities = append(priorities, int32(t.Priority))
		runs = append(runs, t.Run != nil)
		bodies = append(bodies, string(e.body))
		nexts = append(nexts, nextRun(t))
		kinds = append(kinds, pgtype.Text{String: t.ScheduleType, Valid: t.ScheduleType != ""})
		enabled = append(enabled, t.ScheduleEnabled)
		if !sameDependencies(e.orig, t) {
			depChanged = append(depChanged, id)
			for _, d := range dependencyIDs(t) {
				edgeDeps = append(edgeDeps, d)
				edgeTasks = append(edgeTasks, id)
			}
		}
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE apflow_tasks AS t
		SET status = u.status, priority = u.priority, run_active = u.run_active, body = u.body::json,
			next_run_at = u.next_run_at, schedule_type = u.schedule_type, schedule_enabled = u.schedule_enabled
		FROM unnest($1::text[], $2::text[], $3::integer[], $4::boolean[], $5::text[],
				$6::timestamptz[], $7::text[], $8::boolean[])
			AS u(id, status, priority, run_active, body, next_run_at, schedule_type, schedule_enabled)
		WHERE t.id = u.id`, upIDs, statuses, priorities, runs, bodies, nexts, kinds, enabled).
		Exec(func(ct pgconn.CommandTag) error {
			if n := ct.RowsAffected(); n != int64(len(upIDs)) {
				return fmt.Errorf("updated %d tasks, want %d", n, len(upIDs))
			}
			return nil
		})
	if len(depChanged) > 0 {
		b.Queue("DELETE FROM apflow_task_dependencies WHERE task_id = ANY($1)", depChanged)
		if len(edgeDeps) > 0 {
			b.Queue(`INSERT INTO apflow_task_dependencies (dependency_id, task_id)
				SELECT * FROM unnest($1::text[], $2::text[])`, edgeDeps, edgeTasks)
		}
	}
	return b
}
