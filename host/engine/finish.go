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
		Interrupted: interrupted, Err: c.fatal, Executed: r.finished.Load()}
	if c.graph != nil {
		for _, n := range c.graph.nodes {
			res.Counts[n.v.status]++
			if n.v.blocked() {
				res.Blocked++
			}
		}
		if i, ok := c.graph.lookup(r.rootID); ok {
			res.Root = c.graph.nodes[i].t
			res.Status = res.Root.Status
		}
		if res.Err == nil && !res.Interrupted {
			status := c.graph.treeStatus(r.rootID)
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
			return fmt.Sprintf("%sdependency %s cannot run", task.BlockedPrefix, n.v.deps[k].ID)
		}
	}
	return task.BlockedPrefix + "nothing left to run"
}

// tasks returns what the run keeps of its tasks: the whole task where a node keeps it,
// else a task holding its view (task.Task.TaskTreeID set, task.Task.UserID not).
func (c *coordinator) tasks() []*task.Task {
	out := make([]*task.Task, len(c.graph.nodes))
	for i, n := range c.graph.nodes {
		out[i] = n.t
		if n.t == nil {
			out[i] = n.v.task(c.run.treeID)
		}
	}
	return out
}

// treeEvent calls the tree hook, if any, with the tree as stored (links showing their
// originals' data, as the run sees them). The run keeps views of its tasks
// (snapshot.go), so the tree is read from the store; when that fails, the hook gets what
// the run keeps (tasks).
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

// treeStatus is the reference's calculate_status of the tree under the root: a leaf has
// its own status; otherwise from children only: all completed → completed; any failed →
// failed; any in_progress → in_progress; else pending. Pending when the root is not in
// the graph. Iterative post-order to survive deep trees.
func (g *graph) treeStatus(rootID string) task.Status {
	root, ok := g.lookup(rootID)
	if !ok {
		return task.Pending
	}
	children := make([][]int32, len(g.nodes))
	for i, n := range g.nodes {
		if int32(i) == root || n.v.parentID == "" {
			continue
		}
		if p, ok := g.lookup(n.v.parentID); ok {
			children[p] = append(children[p], int32(i))
		}
	}
	type frame struct {
		i    int32
		next int
		acc  []task.Status
	}
	stack := []*frame{{i: root}}
	var last task.Status
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		kids := children[f.i]
		if len(kids) == 0 {
			last = g.nodes[f.i].v.status
		} else if f.next < len(kids) {
			stack = append(stack, &frame{i: kids[f.next]})
			f.next++
			continue
		} else {
			last = combine(f.acc)
		}
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
		if j >= 0 && (c.graph.nodes[j].state == stOut || !c.scope[j]) && !c.graph.nodes[j].v.status.Terminal() {
			return true
		}
	}
	return false
}
