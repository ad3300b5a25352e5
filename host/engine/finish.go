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
func (s *sched) finish(ctx context.Context) {
	r, e := s.r, s.e
	interrupted := s.closing && s.unfinished()
	if s.g != nil && !interrupted && s.fatal == nil {
		for i, n := range s.g.nodes {
			if !s.scope[i] || (n.state != stIdle && n.state != stHeld) || s.waitsOnOut(n) {
				continue
			}
			n.state = stBlocked
			s.markBlocked(int32(i), s.stuckReason(n))
		}
		s.settleQ = nil
		s.clearRun()
		s.commit(ctx)
	}
	res := RunResult{RootID: r.rootID, Counts: map[task.Status]int{}, Duration: e.cfg.Now().Sub(r.started),
		Interrupted: interrupted, Err: s.fatal}
	if s.g != nil {
		for _, n := range s.g.nodes {
			res.Counts[n.t.Status]++
			if n.t.Blocked() {
				res.Blocked++
			}
		}
		if i, ok := s.g.index[r.rootID]; ok {
			res.Root = s.g.nodes[i].t
			res.Status = res.Root.Status
		}
		if res.Err == nil && !res.Interrupted {
			status := treeStatus(task.BuildTree(s.tasks(), r.rootID))
			if status == task.Completed {
				s.treeEvent(ctx, TreeCompleted, string(status), string(status))
			} else {
				s.treeEvent(ctx, TreeFailed, string(status), fmt.Sprintf("Tree finished with status: %s", status))
			}
		}
	}
	r.result = res
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
func (s *sched) stuckReason(n *node) string {
	for k, j := range n.deps {
		if j >= 0 && s.g.nodes[j].state != stDone {
			return fmt.Sprintf("%sdependency %s cannot run", task.BlockedPrefix, n.t.Dependencies[k].ID)
		}
	}
	return task.BlockedPrefix + "nothing left to run"
}

func (s *sched) tasks() []*task.Task {
	out := make([]*task.Task, len(s.g.nodes))
	for i, n := range s.g.nodes {
		out[i] = n.t
	}
	return out
}

// treeEvent calls the tree hook, if any, with the current snapshot of the tree.
func (s *sched) treeEvent(ctx context.Context, kind, status, msg string) {
	h := s.e.cfg.Hooks
	if h == nil || s.g == nil {
		return
	}
	tree := task.BuildTree(s.tasks(), s.r.rootID)
	if tree == nil {
		return
	}
	h.TreeEvent(ctx, kind, tree.Task, tree, status, msg)
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
func (s *sched) waitsOnOut(n *node) bool {
	for _, j := range n.deps {
		if j >= 0 && (s.g.nodes[j].state == stOut || !s.scope[j]) && !s.g.nodes[j].t.Status.Terminal() {
			return true
		}
	}
	return false
}
