package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// What the coordinator keeps of a task.
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

// slim returns the snapshot node n keeps of t (t itself for the root). The executor id
// is kept as a schemas map shared by every snapshot of the run with that id; it is never
// modified.
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

// treeScanner is a store that hands a tree's tasks over one at a time, in submission
// order (seq, then id): host/store/memstore and badgerstore (storetest.RunScanTree). A
// run loads such a store's trees without ever holding all their tasks decoded at once;
// other stores are read with Tree.
type treeScanner interface {
	ScanTree(ctx context.Context, treeID string, fn func(*task.Task) error) error
}

// loadGraph reads the run's tree into c.graph, keeping a slim snapshot of every task but
// the root (links get their originals' data first). A result is kept only for a task
// some task of the tree depends on.
func (c *coordinator) loadGraph(ctx context.Context) error {
	g := &graph{index: map[string]int32{}, root: -1}
	c.graph = g
	add := func(t *task.Task) error {
		t, err := c.resolveLink(ctx, t)
		if err != nil {
			return err
		}
		n := g.add(t)
		if g.root < 0 || g.nodes[g.root] != n {
			n.t = c.slim(n, t)
			n.t.Result = t.Result // dependents are not known yet: dropped after link
		}
		return nil
	}
	created := c.run.created
	c.run.created = nil
	if c.usable(created) {
		if err := c.addCreated(ctx, created, add); err != nil {
			return fmt.Errorf("load tree: %w", err)
		}
	} else if s, ok := c.engine.cfg.Store.(treeScanner); ok {
		if err := s.ScanTree(ctx, c.run.treeID, add); err != nil {
			return fmt.Errorf("load tree: %w", err)
		}
	} else {
		tasks, err := c.engine.cfg.Store.Tree(ctx, c.run.treeID)
		if err != nil {
			return fmt.Errorf("load tree: %w", err)
		}
		for k, t := range tasks {
			tasks[k] = nil // garbage once slim
			if err := add(t); err != nil {
				return err
			}
		}
	}
	g.link()
	for i, n := range g.nodes {
		if int32(i) != g.root && len(n.dependents) == 0 {
			n.t.Result = nil
		}
	}
	return nil
}

// usable reports whether the run may build its graph from created, the tree as its
// caller just stored it (RunOptions.Created).
func (c *coordinator) usable(created []*task.Task) bool {
	if created == nil || c.clustered() || c.engine.cfg.Hooks != nil {
		return false
	}
	for _, t := range created {
		if t == nil || t.TreeID() != c.run.treeID {
			return false
		}
	}
	return true
}

// addCreated adds created to the graph in submission order (seq, then id), as ScanTree
// hands a tree over. The root is read from the store: its snapshot is handed out as
// stored, and a created task is the caller's form of it.
func (c *coordinator) addCreated(ctx context.Context, created []*task.Task, add func(*task.Task) error) error {
	order := slices.Clone(created)
	slices.SortStableFunc(order, store.SubmissionOrder)
	for _, t := range order {
		if t.IsRoot() {
			stored, err := c.engine.cfg.Store.Get(ctx, t.ID)
			if err != nil {
				return err
			}
			t = stored
		}
		if err := add(t); err != nil {
			return err
		}
	}
	return nil
}
