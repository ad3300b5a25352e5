package engine

import (
	"context"

	"github.com/apflow-wasm/apflow/host/task"
)

// What the coordinator keeps of a task (docs/performance.md, "Memory per task").
//
// A node's snapshot (node.t) is the full stored task only while the task is in flight
// (from the commit that starts it to the commit of its outcome) and for the root, whose
// snapshot is the run's result. Every other node keeps a slim snapshot: the fields that
// scheduling, injection and the run's result read (identity, status, priority, seq,
// dependencies, error, origin, retry state, run marker, attempts, the executor id) and its
// result only when a task of the tree depends on it. Inputs, params, schemas, timestamps,
// usage and hook errors are left to the store. So a run of n tasks holds n small
// snapshots, not n copies of the tree.
//
// Pitfall: a slim snapshot is not the stored task and is never handed out (events,
// hooks, replies): those get the task a write returned, or read it from the store.

// slim returns the snapshot node n keeps of t (t itself for the root). The executor id is kept as a schemas map shared by every snapshot
// of the run with that id; it is never modified.
func (c *coordinator) slim(n *node, t *task.Task) *task.Task {
	if t == nil || c.graph.root >= 0 && c.graph.nodes[c.graph.root] == n {
		return t
	}
	s := &task.Task{
		ID: t.ID, ParentID: t.ParentID, TaskTreeID: t.TaskTreeID, UserID: t.UserID,
		Status: t.Status, Priority: t.Priority, Dependencies: t.Dependencies, Error: t.Error,
		OriginType: t.OriginType, OriginalTaskID: t.OriginalTaskID, Seq: t.Seq,
		Attempts: t.Attempts, Retry: t.Retry, Run: t.Run,
		Schemas: c.methodSchemas(t.Method()),
	}
	if len(n.dependents) > 0 {
		s.Result = t.Result
	}
	return s
}

// methodSchemas returns the run's shared schemas map naming method ({"method": method}),
// or nil for "".
func (c *coordinator) methodSchemas(method string) map[string]any {
	if method == "" {
		return nil
	}
	if m, ok := c.methods[method]; ok {
		return m
	}
	if c.methods == nil {
		c.methods = map[string]map[string]any{}
	}
	m := map[string]any{"method": method}
	c.methods[method] = m
	return m
}

// stored returns node i's task as a reader sees it: its snapshot for the root and for a
// task in flight, else read from the store (a slim snapshot is never handed out).
func (c *coordinator) stored(i int32) (*task.Task, error) {
	n := c.graph.nodes[i]
	if i == c.graph.root || n.inflight {
		return n.t, nil
	}
	return c.engine.cfg.Store.Get(context.Background(), n.t.ID)
}
