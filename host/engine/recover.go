package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Recover resumes the runs a crash or a Close interrupted (docs/semantics.md rule 18). Call it once at
// start-up, before serving requests.
//
// Tasks found in_progress go back to pending (their attempt stays counted). Then every
// tree whose root carries a run marker (task.Task.Run: a run started and did not end) is
// resumed with the scope the marker records (whole tree or RunOptions.TaskID); a tree
// with an orphaned in_progress task but no marker (written before markers existed) is
// resumed whole. A resumed run continues where it stopped: nothing completed runs again
// (not even the target of a TaskID run, nor completed tasks of a Full run), and failed or
// cancelled tasks are not retried. Runs that ended normally, including cancelled ones and
// sub-task runs, carry no marker and are not resumed. A marker naming a task that no
// longer exists is cleared (logged), and its tree is not resumed.
//
// Cost: Recover reads every root once (store.Filter{RootOnly: true}, pages of
// store.MaxLimit) plus the in_progress tasks. Each List call of the Badger store scans
// the whole root index to count matches, so with R roots start-up reads about
// R²/MaxLimit index entries and decodes R roots; trees are resumed after the scan.
//
// Recover tries every tree; it returns the errors of the trees it could not resume,
// joined, after starting the others.
//
// In cluster mode Recover touches only what no live node holds: it takes over the runs
// whose lease expired or was released (as every node's heartbeat also does); tasks of
// dead nodes' claims go back to the queue when their lease expires.
func (e *Engine) Recover(ctx context.Context) error {
	if e.m != nil {
		if e.cfg.ClusterClient {
			return nil
		}
		e.sweep(ctx)
		return e.takeOver(ctx)
	}
	orphans, err := e.resetOrphans(ctx)
	if err != nil {
		return err
	}
	// Scan first, start later: resumed runs would compete with the scan.
	type resumption struct {
		rootID string
		opts   RunOptions
	}
	resume := map[string]resumption{} // by tree id
	for offset := 0; ; {
		page, _, err := e.cfg.Store.List(ctx, store.Filter{RootOnly: true, Limit: store.MaxLimit, Offset: offset})
		if err != nil {
			return fmt.Errorf("recover: list roots: %w", err)
		}
		for _, t := range page {
			tree := t.TreeID()
			switch {
			case e.run(tree) != nil:
			case t.Run != nil:
				resume[tree] = resumption{t.ID, RunOptions{TaskID: t.Run.TaskID, Full: t.Run.Full, resume: true}}
			case orphans[tree]:
				resume[tree] = resumption{t.ID, RunOptions{resume: true}}
			}
			delete(orphans, tree)
		}
		if len(page) < store.MaxLimit {
			break
		}
		offset += len(page)
	}
	trees := make([]string, 0, len(resume))
	for tree := range resume {
		trees = append(trees, tree)
	}
	sort.Strings(trees)
	var errs []error
	for _, tree := range trees {
		rs := resume[tree]
		if id := rs.opts.TaskID; id != "" {
			if _, err := e.cfg.Store.Get(ctx, id); apferr.CodeOf(err) == apferr.TaskNotFound {
				e.cfg.Logger.Warn("recover: the interrupted run's task no longer exists; run not resumed",
					"root", rs.rootID, "task", id)
				if err := e.dropMarker(ctx, rs.rootID); err != nil {
					errs = append(errs, err)
				}
				continue
			}
		}
		if _, err := e.Start(ctx, rs.rootID, rs.opts); err != nil && !isAlreadyRunning(err) {
			errs = append(errs, fmt.Errorf("recover: resume tree of %s: %w", rs.rootID, err))
		}
	}
	for tree := range orphans { // an orphaned task whose tree has no root: report it
		errs = append(errs, fmt.Errorf("recover: tree %s has in_progress tasks but no root", tree))
	}
	return errors.Join(errs...)
}

// isAlreadyRunning reports whether err is Start's answer for a tree that is running.
func isAlreadyRunning(err error) bool {
	return apferr.CodeOf(err) == apferr.AlreadyExecuting
}

// dropMarker clears the run marker of a root.
func (e *Engine) dropMarker(ctx context.Context, rootID string) error {
	_, err := e.cfg.Store.Update(ctx, rootID, clearMarker)
	if err != nil {
		return fmt.Errorf("recover: clear the run marker of %s: %w", rootID, err)
	}
	return nil
}

// indexRepairer is a store whose status index can disagree with its tasks after its
// files were mended by hand, and that can mend one task's entries
// (badgerstore.Store.RepairIndex).
type indexRepairer interface {
	RepairIndex(ctx context.Context, id string) error
}

// resetOrphans puts the tasks found in_progress outside this engine's runs back to
// pending (attempt kept) and returns the ids of their trees. A task the store lists as
// in_progress but returns in another status (its status index disagrees with it, which
// a store damaged outside apflow can show) is not reset, which would change nothing and
// bring the same page back for ever: its entries are repaired when the store can
// (indexRepairer), else it is passed over; either way it is logged.
func (e *Engine) resetOrphans(ctx context.Context) (map[string]bool, error) {
	trees := map[string]bool{}
	now := e.cfg.Now()
	skip := 0
	for {
		page, _, err := e.cfg.Store.List(ctx, store.Filter{Status: task.InProgress, Limit: store.MaxLimit, Offset: skip})
		if err != nil {
			return nil, fmt.Errorf("recover: list in_progress tasks: %w", err)
		}
		if len(page) == 0 {
			return trees, nil
		}
		var b batch
		var firstErr error
		for _, t := range page {
			if e.run(t.TreeID()) != nil {
				skip++ // running in this engine: not orphaned
				continue
			}
			if t.Status != task.InProgress {
				if !e.repairIndex(ctx, t) {
					skip++
				}
				continue
			}
			trees[t.TreeID()] = true
			b.add(t.ID, func(t *task.Task) error {
				if t.Status != task.InProgress {
					return nil
				}
				return t.Reset(now)
			}, func(_ *task.Task, err error) {
				if err != nil && firstErr == nil {
					firstErr = err
				}
			})
		}
		b.commit(ctx, storeWriter{e.cfg.Store})
		if firstErr != nil {
			return nil, fmt.Errorf("recover: reset in_progress tasks: %w", firstErr)
		}
	}
}

// repairIndex mends the entries of t, which the store's status index lists as
// in_progress though it is not, and reports whether it did: the entry is then gone
// from the list.
func (e *Engine) repairIndex(ctx context.Context, t *task.Task) bool {
	const msg = "recover: the store lists the task as in_progress, but it is not; its status index disagrees with it"
	r, ok := e.cfg.Store.(indexRepairer)
	if !ok {
		e.cfg.Logger.Error(msg, "task", t.ID, "status", t.Status)
		return false
	}
	if err := r.RepairIndex(ctx, t.ID); err != nil {
		e.cfg.Logger.Error(msg+"; repairing its entries failed", "task", t.ID, "status", t.Status, "error", err)
		return false
	}
	e.cfg.Logger.Warn(msg+"; its entries are repaired", "task", t.ID, "status", t.Status)
	return true
}
