package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

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
	// NewID returns the id of each new task (CloneCopy, CloneLink, CloneMixed); nil means
	// task.NewID. The API gives a non-admin's clones ids in the owner's namespace
	// (docs/decisions.md §12). It must return a different, unused id each call:
	// a collision fails the store write.
	NewID func() string
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
	mode, reset, err := checkCloneOptions(opts)
	if err != nil {
		return nil, err
	}
	g, si, err := e.loadCloneSource(ctx, taskID)
	if err != nil {
		return nil, err
	}
	set := cloneSet(g, si, !opts.Shallow, mode != CloneArchive)
	if mode == CloneArchive {
		return e.archive(ctx, taskID, g, set, opts.DryRun)
	}
	p := &clonePlan{g: g, source: si, set: set, reset: reset, userID: opts.UserID, newID: opts.NewID}
	if p.newID == nil {
		p.newID = task.NewID
	}
	if p.linked, err = linkedTasks(taskID, mode, g, set, opts.LinkTaskIDs); err != nil {
		return nil, err
	}
	if p.originals, err = e.loadOriginals(ctx, taskID, g, set); err != nil {
		return nil, err
	}
	if err := p.checkLinkOwners(taskID); err != nil {
		return nil, err
	}
	out := p.build(e.cfg.Now())
	if opts.DryRun {
		return out, nil
	}
	if err := e.cfg.Store.Create(ctx, out); err != nil {
		return nil, fmt.Errorf("clone %s: store the new tasks: %w", taskID, err)
	}
	e.markReferenced(ctx, taskID, p.referenced())
	e.TreeCreated(ctx, out[0].ID)
	return out, nil
}

// checkCloneOptions checks the combination of mode, link_task_ids and reset_fields and
// returns the mode (CloneCopy for "") and the parsed reset fields.
func checkCloneOptions(opts CloneOptions) (string, resetFields, error) {
	mode := opts.Mode
	if mode == "" {
		mode = CloneCopy
	}
	switch mode {
	case CloneCopy, CloneLink, CloneArchive, CloneMixed:
	default:
		return "", resetFields{}, apferr.InvalidParam("origin_type", fmt.Sprintf("unknown origin_type %q", mode), "copy, link, archive or mixed", mode)
	}
	if mode == CloneMixed && len(opts.LinkTaskIDs) == 0 {
		return "", resetFields{}, apferr.InvalidParam("link_task_ids", "origin_type mixed needs link_task_ids", "a non-empty list of task ids", nil)
	}
	if mode != CloneMixed && len(opts.LinkTaskIDs) > 0 {
		return "", resetFields{}, apferr.InvalidParam("link_task_ids", "link_task_ids is only for origin_type mixed", "mixed", mode)
	}
	if (mode == CloneLink || mode == CloneArchive) && len(opts.ResetFields) > 0 {
		return "", resetFields{}, apferr.InvalidParam("reset_fields", fmt.Sprintf("reset_fields applies to copies; origin_type %s makes none", mode), "copy or mixed", mode)
	}
	reset, err := parseResetFields(opts.ResetFields)
	if err != nil {
		return "", resetFields{}, err
	}
	return mode, reset, nil
}

// loadCloneSource reads the tree of the task to clone and returns its index and the
// task's node.
func (e *Engine) loadCloneSource(ctx context.Context, taskID string) (*graph, int32, error) {
	src, err := e.cfg.Store.Get(ctx, taskID)
	if err != nil {
		return nil, 0, err
	}
	tasks, err := e.cfg.Store.Tree(ctx, src.TreeID())
	if err != nil {
		return nil, 0, fmt.Errorf("clone %s: load tree: %w", taskID, err)
	}
	g := newGraph(tasks)
	si, ok := g.lookup(src.ID)
	if !ok {
		return nil, 0, store.NotFound(taskID)
	}
	return g, si, nil
}

// linkedTasks returns the ids of the tasks of set that become links: all of them for
// CloneLink, linkIDs for CloneMixed, none for CloneCopy. Every linked task must be
// completed.
func linkedTasks(taskID, mode string, g *graph, set []int32, linkIDs []string) (map[string]bool, error) {
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
		for _, id := range linkIDs {
			if !inSet[id] {
				return nil, apferr.InvalidParam("link_task_ids", fmt.Sprintf("task %s is not among the tasks cloned from %s", id, taskID), "ids of tasks in the cloned subtree", id)
			}
			linked[id] = true
		}
	}
	if notDone := notCompleted(g, set, func(t *task.Task) bool { return linked[t.ID] }); len(notDone) > 0 {
		return nil, apferr.New(apferr.InvalidTaskSchema,
			fmt.Sprintf("clone %s: origin_type %s links only completed tasks; not completed: %s", taskID, mode, strings.Join(notDone, ", "))).
			WithData(map[string]any{"task_id": taskID, "field": "origin_type", "tasks": notDone})
	}
	return linked, nil
}

// notCompleted lists, as "id (status)", the tasks of set that sel selects (nil: all) and
// that are not completed.
func notCompleted(g *graph, set []int32, sel func(*task.Task) bool) []string {
	var out []string
	for _, i := range set {
		if t := g.nodes[i].t; (sel == nil || sel(t)) && t.Status != task.Completed {
			out = append(out, fmt.Sprintf("%s (%s)", t.ID, t.Status))
		}
	}
	return out
}

// loadOriginals returns, by id, the tasks the clones of set refer to (a link's own
// original for a link source), read from the store when they are outside the tree:
// links need their owner, copies of links their definition.
func (e *Engine) loadOriginals(ctx context.Context, taskID string, g *graph, set []int32) (map[string]*task.Task, error) {
	originals := make(map[string]*task.Task)
	for _, i := range set {
		o := g.nodes[i].t
		oid := mostOriginal(o)
		if oid == o.ID {
			originals[oid] = o
			continue
		}
		if j, ok := g.lookup(oid); ok {
			originals[oid] = g.nodes[j].t
			continue
		}
		ot, err := e.cfg.Store.Get(ctx, oid)
		if err != nil {
			return nil, fmt.Errorf("clone %s: load the original %s of link %s: %w", taskID, oid, o.ID, err)
		}
		originals[oid] = ot
	}
	return originals, nil
}

// clonePlan is what Clone decided before building the new tasks.
type clonePlan struct {
	g         *graph
	source    int32                 // the cloned task: the root of the new tree
	set       []int32               // the cloned tasks, source first (cloneSet)
	linked    map[string]bool       // ids of the tasks of set that become links
	originals map[string]*task.Task // by id: what the clones' original_task_id name
	reset     resetFields           // overrides of the copies
	userID    string                // owner of the new tasks; "" keeps the sources'
	newID     func() string         // the id of each new task
	ids       map[string]string     // source id -> new id (set by build)
}

// checkLinkOwners refuses to link a task that belongs to another user than the new
// tasks' owner.
func (p *clonePlan) checkLinkOwners(taskID string) error {
	if p.userID == "" {
		return nil
	}
	for _, i := range p.set {
		o := p.g.nodes[i].t
		if !p.linked[o.ID] {
			continue
		}
		if ot := p.originals[mostOriginal(o)]; ot.UserID != "" && ot.UserID != p.userID {
			return apferr.New(apferr.Unauthorized, fmt.Sprintf("clone %s: task %s belongs to another user and cannot be linked", taskID, ot.ID)).
				WithData(map[string]any{"task_id": ot.ID})
		}
	}
	return nil
}

// build returns the new tasks, root first, in submission order: each task of set gets a
// new id, and parents and dependencies are remapped to the new tasks.
func (p *clonePlan) build(now time.Time) []*task.Task {
	p.ids = make(map[string]string, len(p.set))
	for _, i := range p.set {
		p.ids[p.g.nodes[i].t.ID] = p.newID()
	}
	rootID := p.ids[p.g.nodes[p.source].t.ID]
	out := make([]*task.Task, 0, len(p.set))
	parents := map[string]bool{}
	for seq, i := range p.set {
		c := p.cloneOf(i, rootID, now)
		c.Seq = seq
		parents[c.ParentID] = true
		out = append(out, c)
	}
	for _, c := range out {
		c.HasChildren = parents[c.ID]
	}
	return out
}

// cloneOf returns the new task for node i of the tree rootID: a link or a copy, with no
// run history.
func (p *clonePlan) cloneOf(i int32, rootID string, now time.Time) *task.Task {
	o := p.g.nodes[i].t
	orig := p.originals[mostOriginal(o)]
	c := o.Clone()
	c.ID = p.ids[o.ID]
	c.TaskTreeID = rootID
	c.ParentID = p.parentOf(i, rootID)
	c.Dependencies = p.remap(o.Dependencies)
	c.CreatedAt, c.UpdatedAt = now, now
	c.Usage, c.HookErrors, c.Attempts, c.Plugin, c.InputsBeforeHooks = nil, nil, 0, "", nil
	c.Run = nil   // a clone has no run in progress
	c.Retry = nil // nor attempts
	c.HasReferences = false
	c.RunCount, c.LastRunAt, c.NextRunAt = 0, zeroTime, zeroTime
	c.OriginalTaskID = orig.ID
	if p.userID != "" {
		c.UserID = p.userID
	}
	if p.linked[o.ID] {
		asLink(c, orig)
	} else {
		asCopy(c, o, orig)
		p.reset.apply(c, i == p.source)
	}
	return c
}

// parentOf is the new parent of the clone of node i: none for the source, the clone of
// its parent, or else the new root (an upstream dependency pulled in).
func (p *clonePlan) parentOf(i int32, rootID string) string {
	if i == p.source {
		return ""
	}
	if id := p.ids[p.g.nodes[i].t.ParentID]; id != "" {
		return id
	}
	return rootID
}

// remap returns deps pointing to the new tasks; dependencies outside the set are dropped.
func (p *clonePlan) remap(deps []task.Dependency) []task.Dependency {
	var out []task.Dependency
	for _, d := range deps {
		if nid, ok := p.ids[d.ID]; ok {
			out = append(out, task.Dependency{ID: nid, Required: d.Required, Key: d.Key})
		}
	}
	return out
}

// asLink makes c a link to the completed task orig: status, progress and timestamps
// stay those of the original; inputs, params, schemas, result and error are empty.
func asLink(c, orig *task.Task) {
	c.OriginType = task.OriginLink
	c.Status, c.Progress = orig.Status, orig.Progress
	c.StartedAt, c.CompletedAt = orig.StartedAt, orig.CompletedAt
	c.Inputs, c.Params, c.Schemas, c.Result, c.Error = nil, nil, nil, nil, ""
	c.OwnInputs = nil
}

// asCopy makes c, a deep copy of o, a runnable copy of o, reset to pending, with o's own
// inputs (not what its last run injected into them: docs/semantics.md rule 16); copying
// a link (o) copies what it stands for (orig).
func asCopy(c, o, orig *task.Task) {
	c.OriginType = task.OriginCopy
	if o.OriginType == task.OriginLink {
		c.SetOwnInputs(cloneObject(orig.OwnOrInputs()))
		c.Params, c.Schemas = cloneObject(orig.Params), cloneObject(orig.Schemas)
		c.Limits = orig.Limits
	} else {
		c.SetOwnInputs(c.OwnOrInputs())
	}
	c.Status = task.Pending
	c.Result, c.Error, c.Progress = nil, "", 0
	c.StartedAt, c.CompletedAt = zeroTime, zeroTime
}

// referenced returns the ids that get has_references: the sources and the originals
// links point to, each once.
func (p *clonePlan) referenced() []string {
	seen := map[string]bool{}
	var out []string
	for _, i := range p.set {
		o := p.g.nodes[i].t
		for _, id := range []string{o.ID, mostOriginal(o)} {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// markReferenced sets has_references on the given tasks, in one batch. The clones are
// stored already: a failure is logged, not returned.
func (e *Engine) markReferenced(ctx context.Context, sourceID string, ids []string) {
	var b batch
	for _, id := range ids {
		b.add(id, func(t *task.Task) error {
			t.HasReferences = true
			return nil
		}, func(_ *task.Task, err error) {
			if err != nil {
				e.cfg.Logger.Warn("clone: marking a source has_references failed", "source", sourceID, "task", id, "error", err)
			}
		})
	}
	b.commit(ctx, storeWriter{e.cfg.Store})
}

// archive marks the tasks of set origin_type archive once all are completed.
func (e *Engine) archive(ctx context.Context, taskID string, g *graph, set []int32, dryRun bool) ([]*task.Task, error) {
	if notDone := notCompleted(g, set, nil); len(notDone) > 0 {
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
	limits               *task.Limits // params.limits, moved out of params
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
		c.SetOwnInputs(cloneObject(r.inputs))
	}
	if r.setParams {
		c.Params = cloneObject(r.params)
	}
	if r.limits != nil {
		c.Limits = *r.limits
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
				break
			}
			obj = cloneObject(obj)
			l, set, probs := task.CheckParams(nil, false, obj)
			if len(probs) > 0 {
				p := probs[0]
				e := apferr.InvalidParam("reset_fields."+p.Field, p.Reason, p.Expected, p.Actual)
				e.Message = "Invalid params: reset_fields." + strings.ReplaceAll(task.DescribeProblems(probs), "; params.", "; reset_fields.params.")
				return r, e
			}
			if set {
				r.limits = &l
			}
			r.params, r.setParams = obj, true
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
	e.cfg.Hooks.TreeEvent(asCaller(ctx, tree.Task), TreeCreated, tree.Task, tree, "", "")
}
