package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Clone modes (CloneOptions.Mode), the API's origin_type values.
const (
	// CloneCopy makes runnable copies reset to pending (the default).
	CloneCopy = "copy"
	// CloneLink makes read-only references to a completed (sub)tree.
	CloneLink = "link"
	// CloneArchive freezes a completed (sub)tree in place.
	CloneArchive = "archive"
	// CloneMixed links CloneOptions.LinkTaskIDs and copies the rest.
	CloneMixed = "mixed"
)

// CloneOptions configure Clone.
type CloneOptions struct {
	// Shallow clones only the task itself (the API's recursive=false); by default its
	// whole subtree is cloned (recursive=true, the reference default).
	Shallow bool
	// Mode is CloneCopy (""), CloneLink, CloneArchive or CloneMixed.
	Mode string
	// LinkTaskIDs are the source tasks that CloneMixed links (each must be completed and
	// among the cloned tasks); the others are copied.
	LinkTaskIDs []string
	// ResetFields override fields of the copies (CloneCopy, and the copies of
	// CloneMixed): "name", "inputs" and "params" apply to the root copy; "priority"
	// (0..3) to every copy; "status" ("pending"), "progress" (0), "result", "error",
	// "started_at" and "completed_at" (null) are accepted and change nothing, because
	// copies always start reset (docs/semantics.md rule 16). Other keys or values are refused (-32602).
	ResetFields map[string]any
	// DryRun returns what Clone would store (the API's save=false) and changes nothing:
	// no task is stored or marked, no hook fires.
	DryRun bool
	// UserID owns the new tasks; "" keeps the owners of the sources. Linking a task that
	// belongs to another user is refused (-32004).
	UserID string
}

// Clone copies, links or archives a task, or its subtree (docs/semantics.md rule 16). It returns the
// new tasks (for CloneArchive: the archived tasks), root first, in submission order.
//
// CloneCopy and CloneMixed make a new tree: new ids, dependencies remapped to the new
// tasks; a non-root source becomes the root of the new tree, and the tasks the clones
// depend on outside the cloned set are cloned too (transitively), as children of the new
// root, so the new tree can run on its own. Copies are reset to pending (result, error,
// progress, timestamps, usage cleared), origin_type "copy".
//
// CloneLink (and the linked tasks of CloneMixed) needs every linked task completed
// (-32005 otherwise): a link keeps the original's name, priority, status, progress and
// timestamps, has null inputs, params, schemas and result, origin_type "link" and
// original_task_id naming the most original non-link task; readers resolve it to that
// original (the API does). CloneLink clones the same set as CloneCopy.
//
// CloneArchive needs the task (and its subtree unless Shallow) completed (-32005) and
// marks those tasks themselves origin_type "archive"; no task is created.
//
// original_task_id is always the most original non-link task (a link's own
// original_task_id), and the sources (and the originals links point to) get
// has_references.
func (e *Engine) Clone(ctx context.Context, taskID string, opts CloneOptions) ([]*task.Task, error) {
	mode := opts.Mode
	if mode == "" {
		mode = CloneCopy
	}
	switch mode {
	case CloneCopy, CloneLink, CloneArchive, CloneMixed:
	default:
		return nil, apferr.InvalidParam("origin_type", fmt.Sprintf("unknown origin_type %q", mode), "copy, link, archive or mixed", mode)
	}
	if mode == CloneMixed && len(opts.LinkTaskIDs) == 0 {
		return nil, apferr.InvalidParam("link_task_ids", "origin_type mixed needs link_task_ids", "a non-empty list of task ids", nil)
	}
	if mode != CloneMixed && len(opts.LinkTaskIDs) > 0 {
		return nil, apferr.InvalidParam("link_task_ids", "link_task_ids is only for origin_type mixed", "mixed", mode)
	}
	if (mode == CloneLink || mode == CloneArchive) && len(opts.ResetFields) > 0 {
		return nil, apferr.InvalidParam("reset_fields", fmt.Sprintf("reset_fields applies to copies; origin_type %s makes none", mode), "copy or mixed", mode)
	}
	reset, err := parseResetFields(opts.ResetFields)
	if err != nil {
		return nil, err
	}

	src, err := e.cfg.Store.Get(ctx, taskID)
	if err != nil {
		return nil, err
	}
	tasks, err := e.cfg.Store.Tree(ctx, src.TreeID())
	if err != nil {
		return nil, fmt.Errorf("clone %s: load tree: %w", taskID, err)
	}
	g := newGraph(tasks)
	si, ok := g.index[src.ID]
	if !ok {
		return nil, store.NotFound(taskID)
	}
	set := cloneSet(g, si, !opts.Shallow, mode != CloneArchive)

	if mode == CloneArchive {
		return e.archive(ctx, taskID, g, set, opts.DryRun)
	}

	// Which tasks are linked.
	linked := make(map[string]bool)
	switch mode {
	case CloneLink:
		for _, i := range set {
			linked[g.nodes[i].t.ID] = true
		}
	case CloneMixed:
		inSet := make(map[string]bool, len(set))
		for _, i := range set {
			inSet[g.nodes[i].t.ID] = true
		}
		for _, id := range opts.LinkTaskIDs {
			if !inSet[id] {
				return nil, apferr.InvalidParam("link_task_ids", fmt.Sprintf("task %s is not among the tasks cloned from %s", id, taskID), "ids of tasks in the cloned subtree", id)
			}
			linked[id] = true
		}
	}
	var notDone []string
	for _, i := range set {
		if t := g.nodes[i].t; linked[t.ID] && t.Status != task.Completed {
			notDone = append(notDone, fmt.Sprintf("%s (%s)", t.ID, t.Status))
		}
	}
	if len(notDone) > 0 {
		return nil, apferr.New(apferr.InvalidTaskSchema,
			fmt.Sprintf("clone %s: origin_type %s links only completed tasks; not completed: %s", taskID, mode, strings.Join(notDone, ", "))).
			WithData(map[string]any{"task_id": taskID, "field": "origin_type", "tasks": notDone})
	}

	// The originals the new tasks refer to (a link's own original for a link source),
	// loaded when they are outside this tree: links need their owner, copies of links
	// their definition.
	originals := make(map[string]*task.Task)
	for _, i := range set {
		o := g.nodes[i].t
		oid := mostOriginal(o)
		if oid == o.ID {
			originals[oid] = o
			continue
		}
		if j, ok := g.index[oid]; ok {
			originals[oid] = g.nodes[j].t
			continue
		}
		ot, err := e.cfg.Store.Get(ctx, oid)
		if err != nil {
			return nil, fmt.Errorf("clone %s: load the original %s of link %s: %w", taskID, oid, o.ID, err)
		}
		originals[oid] = ot
	}
	if opts.UserID != "" {
		for _, i := range set {
			o := g.nodes[i].t
			if !linked[o.ID] {
				continue
			}
			if ot := originals[mostOriginal(o)]; ot.UserID != "" && ot.UserID != opts.UserID {
				return nil, apferr.New(apferr.Unauthorized, fmt.Sprintf("clone %s: task %s belongs to another user and cannot be linked", taskID, ot.ID)).
					WithData(map[string]any{"task_id": ot.ID})
			}
		}
	}

	ids := make(map[string]string, len(set))
	for _, i := range set {
		ids[g.nodes[i].t.ID] = task.NewID()
	}
	now := e.cfg.Now()
	rootID := ids[src.ID]
	out := make([]*task.Task, 0, len(set))
	parents := map[string]bool{}
	for seq, i := range set {
		o := g.nodes[i].t
		orig := originals[mostOriginal(o)]
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
		c.CreatedAt, c.UpdatedAt = now, now
		c.Usage, c.HookErrors, c.Attempts, c.Plugin = nil, nil, 0, ""
		c.Run = nil // a clone has no run in progress
		c.HasReferences = false
		c.RunCount, c.LastRunAt, c.NextRunAt = 0, zeroTime, zeroTime
		c.OriginalTaskID = orig.ID
		if opts.UserID != "" {
			c.UserID = opts.UserID
		}
		if linked[o.ID] {
			// Status, progress and timestamps stay those of the (completed) original.
			c.OriginType = task.OriginLink
			c.Status, c.Progress = orig.Status, orig.Progress
			c.StartedAt, c.CompletedAt = orig.StartedAt, orig.CompletedAt
			c.Inputs, c.Params, c.Schemas, c.Result, c.Error = nil, nil, nil, nil, ""
		} else {
			c.OriginType = task.OriginCopy
			if o.OriginType == task.OriginLink {
				// Copying a link copies what it stands for.
				c.Inputs, c.Params, c.Schemas = cloneObject(orig.Inputs), cloneObject(orig.Params), cloneObject(orig.Schemas)
				c.Limits = orig.Limits
			}
			c.Status = task.Pending
			c.Result, c.Error, c.Progress = nil, "", 0
			c.StartedAt, c.CompletedAt = zeroTime, zeroTime
			reset.apply(c, i == si)
		}
		c.Seq = seq
		out = append(out, c)
	}
	for _, c := range out {
		c.HasChildren = parents[c.ID]
	}
	if opts.DryRun {
		return out, nil
	}
	if err := e.cfg.Store.Create(ctx, out); err != nil {
		return nil, fmt.Errorf("clone %s: store the new tasks: %w", taskID, err)
	}
	marked := map[string]bool{}
	var b batch
	mark := func(id string) {
		if marked[id] {
			return
		}
		marked[id] = true
		b.add(id, func(t *task.Task) error {
			t.HasReferences = true
			return nil
		}, func(_ *task.Task, err error) {
			if err != nil {
				e.cfg.Logger.Warn("clone: marking a source has_references failed", "source", taskID, "task", id, "error", err)
			}
		})
	}
	for _, i := range set {
		o := g.nodes[i].t
		mark(o.ID)
		mark(mostOriginal(o))
	}
	b.commit(ctx, e.cfg.Store)
	e.TreeCreated(ctx, rootID)
	return out, nil
}

// archive marks the tasks of set origin_type archive once all are completed.
func (e *Engine) archive(ctx context.Context, taskID string, g *graph, set []int32, dryRun bool) ([]*task.Task, error) {
	var notDone []string
	for _, i := range set {
		if t := g.nodes[i].t; t.Status != task.Completed {
			notDone = append(notDone, fmt.Sprintf("%s (%s)", t.ID, t.Status))
		}
	}
	if len(notDone) > 0 {
		return nil, apferr.New(apferr.InvalidTaskSchema,
			fmt.Sprintf("archive %s: only completed tasks can be archived; not completed: %s", taskID, strings.Join(notDone, ", "))).
			WithData(map[string]any{"task_id": taskID, "field": "origin_type", "tasks": notDone})
	}
	now := e.cfg.Now()
	if dryRun {
		out := make([]*task.Task, 0, len(set))
		for _, i := range set {
			c := g.nodes[i].t.Clone()
			c.OriginType, c.UpdatedAt = task.OriginArchive, now
			out = append(out, c)
		}
		return out, nil
	}
	muts := make([]store.Mutation, 0, len(set))
	for _, i := range set {
		id := g.nodes[i].t.ID
		muts = append(muts, store.Mutation{ID: id, Fn: func(t *task.Task) error {
			if t.Status != task.Completed {
				return apferr.New(apferr.InvalidTaskSchema, fmt.Sprintf("archive %s: task %s is %s, no longer completed", taskID, id, t.Status)).
					WithData(map[string]any{"task_id": id, "field": "origin_type"})
			}
			t.OriginType, t.UpdatedAt = task.OriginArchive, now
			return nil
		}})
	}
	stored, err := e.cfg.Store.UpdateMany(ctx, muts)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", taskID, err)
	}
	return stored, nil
}

// cloneSet returns the cloned tasks of g: the source si, its descendants when
// recursive, then (withDeps) the closure under dependencies; the source first, the
// rest in submission order.
func cloneSet(g *graph, si int32, recursive, withDeps bool) []int32 {
	in := make([]bool, len(g.nodes))
	in[si] = true
	set := []int32{si}
	if recursive {
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
	if withDeps {
		for k := 0; k < len(set); k++ {
			for _, j := range g.nodes[set[k]].deps {
				if j >= 0 && !in[j] {
					in[j] = true
					set = append(set, j)
				}
			}
		}
	}
	sort.Slice(set, func(a, b int) bool {
		if set[a] == si || set[b] == si {
			return set[a] == si && set[b] != si
		}
		return g.nodes[set[a]].t.Seq < g.nodes[set[b]].t.Seq
	})
	return set
}

// mostOriginal is the id a clone of t refers to: a link's original, else t itself.
func mostOriginal(t *task.Task) string {
	if t.IsLink() {
		return t.OriginalTaskID
	}
	return t.ID
}

// resetFields are the parsed CloneOptions.ResetFields.
type resetFields struct {
	name                 *string
	priority             *int
	inputs, params       map[string]any
	setInputs, setParams bool
}

// apply overrides the fields of copy c (root: the root copy).
func (r resetFields) apply(c *task.Task, root bool) {
	if r.priority != nil {
		c.Priority = *r.priority
	}
	if !root {
		return
	}
	if r.name != nil {
		c.Name = *r.name
	}
	if r.setInputs {
		c.Inputs = cloneObject(r.inputs)
	}
	if r.setParams {
		c.Params = cloneObject(r.params)
	}
}

// parseResetFields checks the overrides of CloneOptions.ResetFields.
func parseResetFields(m map[string]any) (resetFields, error) {
	var r resetFields
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		field := "reset_fields." + k
		switch k {
		case "name":
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return r, apferr.InvalidParam(field, "name must be a non-empty string", "a non-empty string", v)
			}
			r.name = &s
		case "priority":
			p, ok := intValue(v)
			if !ok || p < task.MinPriority || p > task.MaxPriority {
				return r, apferr.InvalidParam(field, "priority must be an integer from 0 to 3", "0-3", v)
			}
			r.priority = &p
		case "inputs", "params":
			obj, ok := v.(map[string]any)
			if !ok && v != nil {
				return r, apferr.InvalidParam(field, k+" must be an object or null", "an object or null", v)
			}
			if k == "inputs" {
				r.inputs, r.setInputs = obj, true
			} else {
				r.params, r.setParams = obj, true
			}
		case "status":
			if s, _ := v.(string); s != string(task.Pending) {
				return r, apferr.InvalidParam(field, "copies always start pending", "pending", v)
			}
		case "progress":
			if f, ok := floatValue(v); !ok || f != 0 {
				return r, apferr.InvalidParam(field, "copies always start with progress 0", 0, v)
			}
		case "result", "error", "started_at", "completed_at":
			if v != nil {
				return r, apferr.InvalidParam(field, "copies always start with "+k+" null", nil, v)
			}
		default:
			return r, apferr.InvalidParam(field, "unknown or unsupported field; reset_fields takes name, priority, inputs, params, status, progress, result, error, started_at, completed_at", nil, k)
		}
	}
	return r, nil
}

// cloneObject deep-copies a decoded JSON object (nil stays nil).
func cloneObject(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return task.CloneValue(m).(map[string]any)
}

func floatValue(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	}
	return 0, false
}

func intValue(v any) (int, bool) {
	f, ok := floatValue(v)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, false
	}
	return int(f), true
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
	tasks, err := e.cfg.Store.Tree(ctx, root.TreeID())
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
