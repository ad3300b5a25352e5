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
// Every node holds a view of its task (node.v): the fields that scheduling, injection,
// cancels and the run's result read (identity, status, error, priority, seq,
// dependencies, executor id, retry state, whether it is frozen) and its result only when
// a task of the tree depends on it. The whole stored task (node.t) is kept only for the
// root, whose snapshot is the run's result, and while the task is in flight: from the
// commit that starts it (or, in cluster mode, queues it) to its outcome. Every other
// node's t is nil; a task in flight whose start is not committed yet, or that a resumed
// cluster run found queued, has none either. Inputs, params, schemas, timestamps, usage
// and hook errors are left to the store. So a run of n tasks holds n views of about 150
// bytes, not n copies of the tree (docs/performance.md, "The product path, eleventh
// pass").
//
// Pitfall: a view is not the stored task and is never handed out (events, hooks,
// replies): those get the task a write returned, or read it from the store (stored).

// view is what a node keeps of its task in every state (see above). Its fields follow
// the task.Task fields of the same meaning.
type view struct {
	id, parentID string
	status       task.Status
	err          string
	method       string // task.Task.Method, shared by every view of the run with that id
	deps         []task.Dependency
	result       any // only when a task of the tree depends on this one
	retry        *task.RetryState
	priority     int32 // 0..3, checked by every write that sets it
	seq          int32
	frozen       bool // task.Task.Frozen
}

// blocked is task.Task.Blocked of the viewed task.
func (v *view) blocked() bool {
	t := task.Task{Status: v.status, Error: v.err}
	return t.Blocked()
}

// waitingRetry is task.Task.WaitingRetry of the viewed task.
func (v *view) waitingRetry() bool {
	t := task.Task{Status: v.status, Retry: v.retry}
	return t.WaitingRetry()
}

// task returns a task holding the view, in tree treeID: what the run keeps of a task it
// does not keep whole, for the rare reader that needs one (coordinator.tasks). Fields
// the view lacks are zero: user id, name, origin, attempts, inputs and the rest.
func (v *view) task(treeID string) *task.Task {
	t := &task.Task{ID: v.id, ParentID: v.parentID, TaskTreeID: treeID, Status: v.status, Error: v.err,
		Priority: int(v.priority), Seq: int(v.seq), Dependencies: v.deps, Result: v.result, Retry: v.retry}
	if v.method != "" {
		t.Schemas = map[string]any{"method": v.method}
	}
	return t
}

// see records t, the task as last written, in node n's view. The executor id is interned
// in the graph and the parent's id shared with the parent's view; the result is kept only
// when keepResult.
func (g *graph) see(n *node, t *task.Task, keepResult bool) {
	v := &n.v
	if v.id != t.ID {
		v.id = t.ID
	}
	if v.parentID != t.ParentID {
		v.parentID = g.parentID(t.ParentID)
	}
	v.status, v.err, v.retry, v.frozen = t.Status, t.Error, t.Retry, t.Frozen()
	v.priority, v.seq = int32(t.Priority), int32(t.Seq)
	v.deps = t.Dependencies
	if m := t.Method(); m != v.method {
		v.method = g.method(m)
	}
	v.result = nil
	if keepResult {
		v.result = t.Result
	}
}

// method returns the graph's copy of an executor id.
func (g *graph) method(m string) string {
	if m == "" {
		return ""
	}
	if s, ok := g.methods[m]; ok {
		return s
	}
	if g.methods == nil {
		g.methods = map[string]string{}
	}
	g.methods[m] = m
	return m
}

// parentID returns the parent's own id string when the parent is already in the graph.
func (g *graph) parentID(id string) string {
	if j, ok := g.lookup(id); ok {
		return g.nodes[j].v.id
	}
	return id
}

// set records t as node n's task, kept whole: a task this run starts, queues, or
// predicts the outcome of while it is in flight.
func (c *coordinator) set(n *node, t *task.Task) {
	c.graph.see(n, t, len(n.dependents) > 0)
	n.t = t
}

// slim records t as node n's task, keeping only its view unless n is the root or in
// flight.
func (c *coordinator) slim(n *node, t *task.Task) {
	c.graph.see(n, t, len(n.dependents) > 0)
	if n.inflight || c.graph.root >= 0 && c.graph.nodes[c.graph.root] == n || t.ID == c.run.rootID {
		n.t = t
		return
	}
	n.t = nil
}

// predict applies f to node n's task as the coordinator knows it and records the result
// when f succeeds: to a copy of the whole task when n keeps it, else to a task holding
// the view's status, error and result (the fields a cancel or a blocked marker changes).
func (c *coordinator) predict(n *node, f func(*task.Task) error) {
	if n.t != nil {
		p := *n.t
		if f(&p) == nil {
			c.set(n, &p)
		}
		return
	}
	p := task.Task{ID: n.v.id, Status: n.v.status, Error: n.v.err, Result: n.v.result, Retry: n.v.retry}
	if f(&p) == nil {
		n.v.status, n.v.err, n.v.result, n.v.retry = p.Status, p.Error, p.Result, p.Retry
	}
}

// stored returns node i's task as a reader sees it: the whole task the node keeps, for
// the root and a task in flight; otherwise the task read from the store (a view is never
// handed out, and a task in flight whose start is not committed yet keeps none).
func (c *coordinator) stored(i int32) (*task.Task, error) {
	n := c.graph.nodes[i]
	if n.t != nil && (i == c.graph.root || n.inflight) {
		return n.t, nil
	}
	return c.engine.cfg.Store.Get(context.Background(), n.v.id)
}

// loadGraph reads the run's tree into c.graph, keeping the view of every task and the
// whole root (links get their originals' data first). A result is kept only for a task
// some task of the tree depends on.
func (c *coordinator) loadGraph(ctx context.Context) error {
	g := &graph{ids: newIDIndex(0), root: -1}
	c.graph = g
	add := func(t *task.Task) error {
		t, err := c.resolveLink(ctx, t)
		if err != nil {
			return err
		}
		n := g.add(t) // the view keeps the result: dependents are not known yet
		if (g.root < 0 || g.nodes[g.root] != n) && t.ID != c.run.rootID {
			n.t = nil
		}
		return nil
	}
	created := c.run.created
	c.run.created = nil
	if ok, ordered := c.usable(created); ok {
		// Sized for the tree: newNode sizes its arrays to g.nodes' room, and the index
		// by id does not grow.
		g.nodes, g.ids = make([]*node, 0, created.Len()), newIDIndex(created.Len())
		if err := c.addCreated(ctx, created, ordered, add); err != nil {
			return fmt.Errorf("load tree: %w", err)
		}
	} else if err := store.EachTask(ctx, c.engine.cfg.Store, c.run.treeID, add); err != nil {
		// A store that scans trees (store.TreeScanner) never has them decoded whole.
		return fmt.Errorf("load tree: %w", err)
	}
	g.link()
	for _, n := range g.nodes {
		if len(n.dependents) == 0 {
			n.v.result = nil
		}
	}
	return nil
}

// usable reports whether the run may build its graph from created, the tree as its
// caller just stored it (RunOptions.Created), and whether it is in submission order
// already. It reads each task of created once.
func (c *coordinator) usable(created store.Batch) (ok, ordered bool) {
	if created == nil || created.Len() == 0 || c.clustered() || c.engine.cfg.Hooks != nil {
		return false, false
	}
	ordered = true
	var prev *task.Task
	for i := range created.Len() {
		t := created.Task(i)
		if t == nil || t.TreeID() != c.run.treeID {
			return false, false
		}
		if prev != nil && store.SubmissionOrder(prev, t) > 0 {
			ordered = false
		}
		prev = t
	}
	return true, ordered
}

// addCreated adds created to the graph in submission order (seq, then id), as ScanTree
// hands a tree over, reading each of its tasks once when it is in that order already
// (usable). The root is read from the store: its snapshot is handed out as stored, and
// a created task is the caller's form of it.
func (c *coordinator) addCreated(ctx context.Context, created store.Batch, ordered bool, add func(*task.Task) error) error {
	next := created.Task
	if !ordered {
		order := slices.Clone(store.Collect(created))
		slices.SortStableFunc(order, store.SubmissionOrder)
		next = func(i int) *task.Task { return order[i] }
	}
	for i := range created.Len() {
		t := next(i)
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
