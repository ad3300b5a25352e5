package engine

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// CloneOptions configure Clone.
type CloneOptions struct {
	// Shallow copies only the task itself (the API's recursive=false); by default its
	// whole subtree is copied (recursive=true, the reference default).
	Shallow bool
}

// Clone copies a task, or its subtree, as a new tree (copy mode, digest §5.11 and
// decisions 12): new ids, dependencies remapped to the copies, every copy reset to
// pending (result, error, progress, timestamps, usage cleared), origin_type "copy" and
// original_task_id naming the task it was copied from; the sources get has_references.
// A non-root source becomes the root of the new tree; the tasks its copies depend on
// outside the copied set are copied too (transitively), as children of the new root, so
// the new tree can run on its own. It returns the copies, root first, in submission order.
func (e *Engine) Clone(ctx context.Context, taskID string, opts CloneOptions) ([]*task.Task, error) {
	src, err := e.cfg.Store.Get(ctx, taskID)
	if err != nil {
		return nil, err
	}
	tasks, err := e.cfg.Store.Tree(ctx, treeOf(src))
	if err != nil {
		return nil, fmt.Errorf("clone %s: load tree: %w", taskID, err)
	}
	g := newGraph(tasks)
	si, ok := g.index[src.ID]
	if !ok {
		return nil, store.NotFound(taskID)
	}
	// The copied set: the source, its descendants unless shallow, then the closure under
	// dependencies.
	in := make([]bool, len(g.nodes))
	in[si] = true
	set := []int32{si}
	if !opts.Shallow {
		children := map[string][]int32{}
		for i, n := range g.nodes {
			children[n.t.ParentID] = append(children[n.t.ParentID], int32(i))
		}
		for k := 0; k < len(set); k++ {
			for _, c := range children[g.nodes[set[k]].t.ID] {
				if !in[c] {
					in[c] = true
					set = append(set, c)
				}
			}
		}
	}
	for k := 0; k < len(set); k++ {
		for _, j := range g.nodes[set[k]].deps {
			if j >= 0 && !in[j] {
				in[j] = true
				set = append(set, j)
			}
		}
	}
	sort.Slice(set, func(a, b int) bool {
		if set[a] == si || set[b] == si {
			return set[a] == si && set[b] != si
		}
		return g.nodes[set[a]].t.Seq < g.nodes[set[b]].t.Seq
	})

	ids := make(map[string]string, len(set))
	for _, i := range set {
		ids[g.nodes[i].t.ID] = newID()
	}
	now := e.cfg.Now()
	rootID := ids[src.ID]
	copies := make([]*task.Task, 0, len(set))
	parents := map[string]bool{}
	for seq, i := range set {
		o := g.nodes[i].t
		c := o.Clone()
		c.ID = ids[o.ID]
		c.TaskTreeID = rootID
		switch {
		case i == si:
			c.ParentID = ""
		case ids[o.ParentID] != "":
			c.ParentID = ids[o.ParentID]
		default:
			c.ParentID = rootID // an upstream dependency pulled in: a child of the new root
		}
		parents[c.ParentID] = true
		var deps []task.Dependency
		for _, d := range o.Dependencies {
			if nid, ok := ids[d.ID]; ok {
				deps = append(deps, task.Dependency{ID: nid, Required: d.Required})
			}
		}
		c.Dependencies = deps
		c.Status = task.Pending
		c.Result, c.Error, c.Progress = nil, "", 0
		c.CreatedAt, c.UpdatedAt = now, now
		c.StartedAt, c.CompletedAt = zeroTime, zeroTime
		c.Usage, c.HookErrors, c.Attempts, c.Plugin = nil, nil, 0, ""
		c.Run = nil // a copy has no run in progress
		c.OriginType, c.OriginalTaskID, c.HasReferences = "copy", o.ID, false
		c.RunCount, c.LastRunAt, c.NextRunAt = 0, zeroTime, zeroTime
		c.Seq = seq
		copies = append(copies, c)
	}
	for _, c := range copies {
		c.HasChildren = parents[c.ID]
	}
	if err := e.cfg.Store.Create(ctx, copies); err != nil {
		return nil, fmt.Errorf("clone %s: store copies: %w", taskID, err)
	}
	var b batch
	for _, i := range set {
		b.add(g.nodes[i].t.ID, func(t *task.Task) error {
			t.HasReferences = true
			return nil
		}, func(_ *task.Task, err error) {
			if err != nil {
				e.cfg.Logger.Warn("clone: marking the source has_references failed", "task", taskID, "error", err)
			}
		})
	}
	b.commit(ctx, e.cfg.Store)
	e.TreeCreated(ctx, rootID)
	return copies, nil
}

var zeroTime = task.Task{}.CreatedAt

// TreeCreated fires the "created" tree hook for a stored tree (the API calls it after
// storing a submission; Clone calls it for its copies).
func (e *Engine) TreeCreated(ctx context.Context, rootID string) {
	if e.cfg.Hooks == nil {
		return
	}
	root, err := e.cfg.Store.Get(ctx, rootID)
	if err != nil {
		e.cfg.Logger.Warn("tree created hook: root not found", "root", rootID, "error", err)
		return
	}
	tasks, err := e.cfg.Store.Tree(ctx, treeOf(root))
	if err != nil {
		e.cfg.Logger.Warn("tree created hook: load tree failed", "root", rootID, "error", err)
		return
	}
	tree := task.BuildTree(tasks, rootID)
	if tree == nil {
		return
	}
	e.cfg.Hooks.TreeEvent(ctx, TreeCreated, tree.Task, tree, "", "")
}

// newID returns a random UUID v4.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
