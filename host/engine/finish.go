package engine

import (
	"context"
	"fmt"

	"github.com/apflow-wasm/apflow/host/task"
)

// finish ends a run: tasks that could never start are marked blocked and the run marker
// is cleared (one transaction), the result is computed, tree hooks fire, the run leaves
// the engine's table, run_end is published and Done is closed. A run that Close stopped
// with work left, or that a store failure stopped, keeps its marker: Recover resumes it.
func (c *coordinator) finish(ctx context.Context) {
	r, e := c.run, c.engine
	interrupted := c.closing && c.unfinished()
	if c.graph != nil && !interrupted && c.fatal == nil {
		for i, n := range c.graph.nodes {
			if !c.scope[i] || (n.state != stIdle && n.state != stHeld) || c.waitsOnOut(n) {
				continue
			}
			n.state = stBlocked
			c.markBlocked(int32(i), c.stuckReason(n))
		}
		c.settleQ = nil
		c.clearRun()
		c.commit(ctx)
	}
	res := RunResult{RootID: r.rootID, Counts: map[task.Status]int{}, Duration: e.cfg.Now().Sub(r.started),
		Interrupted: interrupted, Err: c.fatal}
	if c.graph != nil {
		for _, n := range c.graph.nodes {
			res.Counts[n.t.Status]++
			if n.t.Blocked() {
				res.Blocked++
			}
		}
		if i, ok := c.graph.index[r.rootID]; ok {
			res.Root = c.graph.nodes[i].t
			res.Status = res.Root.Status
		}
		if res.Err == nil && !res.Interrupted {
			status := treeStatus(task.BuildTree(c.tasks(), r.rootID))
			if status == task.Completed {
				c.treeEvent(ctx, TreeCompleted, string(status), string(status))
			} else {
				c.treeEvent(ctx, TreeFailed, string(status), fmt.Sprintf("Tree finished with status: %s", status))
			}
		}
	}
	r.result = res
	c.releaseLease()
	e.mu.Lock()
	if e.runs[r.treeID] == r {
		delete(e.runs, r.treeID)
	}
	e.mu.Unlock()
	e.events.publishRun(EventRunEnd, r.rootID, e.cfg.Now(), &res)
	close(r.done)
}

// stuckReason explains why a pending task of a finished run never started: it names the
// first dependency that did not settle.
func (c *coordinator) stuckReason(n *node) string {
	for k, j := range n.deps {
		if j >= 0 && c.graph.nodes[j].state != stDone {
			return fmt.Sprintf("%sdependency %s cannot run", task.BlockedPrefix, n.t.Dependencies[k].ID)
		}
	}
	return task.BlockedPrefix + "nothing left to run"
}

func (c *coordinator) tasks() []*task.Task {
	out := make([]*task.Task, len(c.graph.nodes))
	for i, n := range c.graph.nodes {
		out[i] = n.t
	}
	return out
}

// treeEvent calls the tree hook, if any, with the tree as stored (links showing their
// originals' data, as the run sees them). The run's snapshots are slim (snapshot.go), so
// the tree is read from the store; when that fails, the hook gets the snapshots.
func (c *coordinator) treeEvent(ctx context.Context, kind, status, msg string) {
	h := c.engine.cfg.Hooks
	if h == nil || c.graph == nil {
		return
	}
	tasks, err := c.engine.cfg.Store.Tree(ctx, c.run.treeID)
	if err == nil {
		err = c.resolveLinks(ctx, tasks)
	}
	if err != nil {
		c.engine.cfg.Logger.Warn("reading the tree for its tree hook failed; the hook gets what the run keeps of it",
			"root", c.run.rootID, "error", err)
		tasks = c.tasks()
	}
	tree := task.BuildTree(tasks, c.run.rootID)
	if tree == nil {
		return
	}
	h.TreeEvent(asCaller(ctx, tree.Task), kind, tree.Task, tree, status, msg)
}

// treeStatus is the reference's calculate_status: a leaf has its own status; otherwise
// from children only: all completed → completed; any failed → failed; any in_progress →
// in_progress; else pending.
func treeStatus(n *task.TreeNode) task.Status {
	if n == nil {
		return task.Pending
	}
	if len(n.Children) == 0 {
		return n.Task.Status
	}
	// Iterative post-order to survive deep trees.
	type frame struct {
		n    *task.TreeNode
		next int
		acc  []task.Status
	}
	stack := []*frame{{n: n}}
	var last task.Status
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		if len(f.n.Children) == 0 {
			last = f.n.Task.Status
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.acc = append(p.acc, last)
			}
			continue
		}
		if f.next < len(f.n.Children) {
			stack = append(stack, &frame{n: f.n.Children[f.next]})
			f.next++
			continue
		}
		last = combine(f.acc)
		stack = stack[:len(stack)-1]
		if len(stack) > 0 {
			p := stack[len(stack)-1]
			p.acc = append(p.acc, last)
		}
	}
	return last
}

func combine(children []task.Status) task.Status {
	all := true
	var failed, running bool
	for _, s := range children {
		all = all && s == task.Completed
		failed = failed || s == task.Failed
		running = running || s == task.InProgress
	}
	switch {
	case all:
		return task.Completed
	case failed:
		return task.Failed
	case running:
		return task.InProgress
	}
	return task.Pending
}

// waitsOnOut reports whether n waits for a task that is not part of the run.
func (c *coordinator) waitsOnOut(n *node) bool {
	for _, j := range n.deps {
		if j >= 0 && (c.graph.nodes[j].state == stOut || !c.scope[j]) && !c.graph.nodes[j].t.Status.Terminal() {
			return true
		}
	}
	return false
}
