package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Update applies change to the stored task id and returns the task as stored, unless the
// task's tree is running: a running tree answers an *apferr.Error with code
// AlreadyExecuting (data: task_id, root_task_id, current_status) and nothing is written.
//
// The tasks of a running tree belong to its run. Update holds the lock that starts runs
// from its check to the commit of the change (as Cancel does for a tree that is not
// running), so no run of the tree starts in between; Updates, Deletes and idle Cancels
// of one engine are serialized.
//
// change runs inside store.Store.Update: it sees the task as stored, and when it returns
// an error nothing is written and that error is returned unchanged. It must not call the
// engine (the lock is held). A change that cancels the task cancels it alone (Cancel of a
// root cancels its tree). A change that makes the task failed or cancelled, or no longer
// one, or changes its dependencies, brings its tree's blocked markers (docs/semantics.md
// rule 13) up to date in a second commit: a task cancelled blocks its pending
// dependents, as Cancel does, and one put back to pending unblocks them.
//
// Update refuses, with an *apferr.Error of code InvalidParams naming the task and the
// field (data: task_id, field, reason) and writing nothing, a change that makes the task
// in_progress (field "status": only a run starts a task, holding an execution slot) and
// any change of a link or an archived task (field "origin_type": frozen, docs/semantics.md
// rule 16).
func (e *Engine) Update(ctx context.Context, id string, change func(*task.Task) error) (*task.Task, error) {
	t, err := e.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	running := func(rootID string) error {
		return apferr.New(apferr.AlreadyExecuting,
			fmt.Sprintf("Task %s: its tree is running; cancel the run or wait for it to end before changing the task", id)).
			WithData(map[string]any{"task_id": id, "root_task_id": rootID, "current_status": string(t.Status)})
	}
	if r := e.runs[t.TreeID()]; r != nil {
		return nil, running(r.rootID)
	}
	release, _, held, err := e.holdIdle(ctx, t.TreeID())
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", id, err)
	}
	if held != nil {
		return nil, running(held.RootID)
	}
	defer release()
	reblock := false
	stored, err := e.cfg.Store.Update(ctx, id, func(t *task.Task) error {
		if t.Frozen() {
			return apferr.New(apferr.InvalidParams,
				fmt.Sprintf("Task %s is a%s %s (frozen) and cannot be changed; clone it in copy mode to edit it", t.ID, article(t.OriginType), t.OriginType)).
				WithData(map[string]any{"task_id": t.ID, "field": "origin_type", "reason": "links and archived tasks are frozen", "origin_type": string(t.OriginType)})
		}
		was, wasDeps := t.Status, slices.Clone(t.Dependencies)
		if err := change(t); err != nil {
			return err
		}
		if t.Status == task.InProgress && was != task.InProgress {
			return apferr.New(apferr.InvalidParams,
				fmt.Sprintf("Task %s: status in_progress cannot be set by an update; execute the task to start it", t.ID)).
				WithData(map[string]any{"task_id": t.ID, "field": "status", "reason": "only a run starts a task", "current_status": string(was)})
		}
		// Only a failed or cancelled task blocks others: markers change when a task
		// becomes one or stops being one, or when dependencies change.
		blocks := func(s task.Status) bool { return s == task.Failed || s == task.Cancelled }
		reblock = t.Status != was && (blocks(was) || blocks(t.Status)) || !slices.Equal(t.Dependencies, wasDeps)
		return nil
	})
	if err != nil || !reblock {
		return stored, err
	}
	// A status or dependencies changed: the tree's blocked markers (rule 13) follow,
	// still under the lock, in a commit of their own. The change is committed whatever
	// becomes of them (a run recomputes them anyway): their failure is only logged.
	if err := e.reblock(ctx, stored.TreeID()); err != nil {
		e.cfg.Logger.Warn("an update was written, but its tree's blocked markers were not brought up to date; the tree's next run does it",
			"task", id, "error", err)
		return stored, nil
	}
	if fresh, err := e.cfg.Store.Get(ctx, id); err == nil { // with its own marker as reblock left it
		stored = fresh
	}
	return stored, nil
}

// reblock brings the blocked markers (docs/semantics.md rule 13) of the idle tree treeID
// in line with its tasks' statuses: the pending dependents, transitively, of its failed
// and cancelled tasks are marked, and a pending task whose marker is stale (staleMarker)
// has it cleared.
func (e *Engine) reblock(ctx context.Context, treeID string) error {
	tasks, err := e.cfg.Store.Tree(ctx, treeID)
	if err != nil {
		return fmt.Errorf("load tree: %w", err)
	}
	g := newGraph(tasks)
	settled := map[int32]string{}
	var queue []int32
	for i, n := range g.nodes {
		if s := n.v.status; s == task.Failed || s == task.Cancelled {
			settled[int32(i)] = string(s)
			queue = append(queue, int32(i))
		}
	}
	var b batch
	var firstErr error
	failed := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	now := e.cfg.Now()
	e.blockDependents(g, &b, settled, queue, now, failed)
	for i, n := range g.nodes {
		if _, blocked := settled[int32(i)]; blocked || !staleMarker(n) {
			continue
		}
		marker := n.v.err
		b.add(n.v.id, func(t *task.Task) error {
			if t.Status == task.Pending && t.Error == marker {
				t.Error, t.UpdatedAt = "", now
			}
			return nil
		}, func(stored *task.Task, err error) {
			if err != nil {
				failed(err)
				return
			}
			e.events.publishTask(e.rootIDOfGraph(g), stored)
		})
	}
	b.commit(ctx, storeWriter{e.cfg.Store})
	return firstErr
}

// article is the indefinite article before an origin type ("a link", "an archive").
func article(o task.OriginType) string {
	if o == task.OriginArchive {
		return "n"
	}
	return ""
}

// Delete deletes the task id and its descendants in one transaction, unless the task's
// tree is running: a running tree answers an *apferr.Error with code CannotDelete (data:
// task_id, reason) and nothing is deleted. It returns the deleted tasks, id first, then
// its descendants level by level.
//
// check, when not nil, is given the tasks to delete as stored once no run of the tree can
// start any more; its error refuses the delete and is returned unchanged. It must not
// call the engine. Like Update, Delete holds the lock that starts runs from its check to
// the commit, so what check saw is what is deleted.
//
// The store refuses (CannotDelete) when a task outside the subtree depends on one inside.
func (e *Engine) Delete(ctx context.Context, id string, check func(subtree []*task.Task) error) ([]*task.Task, error) {
	t, err := e.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	release, _, held, err := e.holdIdle(ctx, t.TreeID())
	if err != nil {
		return nil, fmt.Errorf("delete %s: %w", id, err)
	}
	if e.runs[t.TreeID()] != nil || held != nil {
		if held == nil {
			release()
		}
		return nil, apferr.New(apferr.CannotDelete, fmt.Sprintf("Cannot delete task %s: its tree is running", id)).
			WithData(map[string]any{"task_id": id, "reason": "its tree is running"})
	}
	defer release()
	all, err := e.cfg.Store.Tree(ctx, t.TreeID())
	if err != nil {
		return nil, fmt.Errorf("delete %s: load tree: %w", id, err)
	}
	sub := subtree(all, id)
	if len(sub) == 0 {
		return nil, store.NotFound(id) // deleted since the first read
	}
	if check != nil {
		if err := check(sub); err != nil {
			return nil, err
		}
	}
	ids := make([]string, len(sub))
	for i, x := range sub {
		ids[i] = x.ID
	}
	// Lines still waiting for the loop (a post-hook's, logged as the run ended) are
	// written first, so that the Delete takes them along: written after it, they would
	// be the lines of a task created later with the same id.
	for _, id := range ids {
		e.logs.flush(ctx, id)
	}
	if err := e.cfg.Store.Delete(ctx, ids); err != nil { // the tasks' lines go with them
		return nil, err
	}
	return sub, nil
}

// subtree returns the task rootID and its descendants among tasks, root first, or nil
// when rootID is not among them.
func subtree(tasks []*task.Task, rootID string) []*task.Task {
	kids := map[string][]*task.Task{}
	var root *task.Task
	for _, t := range tasks {
		if t.ID == rootID {
			root = t
		} else if t.ParentID != "" {
			kids[t.ParentID] = append(kids[t.ParentID], t)
		}
	}
	if root == nil {
		return nil
	}
	out := []*task.Task{root}
	for i := 0; i < len(out); i++ {
		out = append(out, kids[out[i].ID]...)
	}
	return out
}

// staleMarker reports whether the blocked marker of node n is one an update may clear
// when nothing blocks n: a marker naming a dependency that failed, was cancelled or is
// blocked (blockedReason), or a run's "cannot run" marker (stuckReason) naming a
// dependency n no longer has. Other run markers stay: only a run knows what it could not
// start.
func staleMarker(n *node) bool {
	err := n.v.err
	if !task.IsBlocked(n.v.status, err) {
		return false
	}
	if strings.HasPrefix(err, task.BlockedPrefix+"required dependency ") || strings.HasPrefix(err, task.BlockedPrefix+"optional dependency ") {
		return true
	}
	id, ok := strings.CutSuffix(strings.TrimPrefix(err, task.BlockedPrefix+"dependency "), " cannot run")
	return ok && !slices.ContainsFunc(n.v.deps, func(d task.Dependency) bool { return d.ID == id })
}
