package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/idempotency"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/submit"
	"github.com/apflow-wasm/apflow/host/task"
)

// visibleTask returns the task id names for the caller (id qualified, see caller.qualify)
// if the caller may see it; another user's task is "not found", so ids of other users'
// tasks leak nothing. Callers act on the returned task's ID, never on id as given.
func (s *Server) visibleTask(ctx context.Context, id string) (*task.Task, error) {
	id = callerFrom(ctx).qualify(id)
	t, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !callerFrom(ctx).sees(t.UserID) {
		return nil, store.NotFound(id)
	}
	return t, nil
}

// submitTasks validates a submission for the caller and stores it. The tree builds its
// tasks when read: the store reads them in turn and none holds them whole.
func (s *Server) submitTasks(ctx context.Context, data []byte) (*submit.Tree, error) {
	tree, err := s.prepareTree(ctx, data)
	if err != nil {
		return nil, err
	}
	if err := s.storeSubmission(ctx, tree); err != nil {
		return nil, err
	}
	return tree, nil
}

// submitToRun is submitTasks for a tree that is run at once: stored with its run's marker
// (engine.Engine.ToRun), which it returns with the tree as stored, and the function that
// gives back what ToRun reserved for the run's Start, to call once the run started or
// will not.
func (s *Server) submitToRun(ctx context.Context, data []byte) (rootID string, stored store.Batch, release func(), err error) {
	tree, err := s.prepareTree(ctx, data)
	if err != nil {
		return "", nil, nil, err
	}
	stored, release, err = s.cfg.Engine.ToRun(ctx, tree, tree.TreeID(), tree.RootID())
	if err != nil {
		return "", nil, nil, fmt.Errorf("store submission: %w", err)
	}
	if err := s.storeSubmission(ctx, stored); err != nil {
		release()
		return "", nil, nil, err
	}
	return tree.RootID(), stored, release, nil
}

// storeSubmission stores a validated submission and tells the engine its tree exists.
func (s *Server) storeSubmission(ctx context.Context, tasks store.Batch) error {
	if err := store.CreateBatch(ctx, s.cfg.Store, tasks); err != nil {
		return fmt.Errorf("store submission: %w", err)
	}
	s.treeCreated(ctx, tasks)
	return nil
}

// prepareTree validates a submission for the caller: their own user stamped, or, for an
// administrator, the tasks' user or else the administrator's.
func (s *Server) prepareTree(ctx context.Context, data []byte) (*submit.Tree, error) {
	cl := callerFrom(ctx)
	owner := Owner{UserID: cl.stampUser(), Namespace: cl.ns}
	if cl.authn && cl.admin {
		owner.DefaultUserID = cl.sub
	}
	return s.cfg.Prepare(ctx, data, owner)
}

// treeCreated tells the engine that the tree of a stored submission exists. It reads
// each task of tasks once.
func (s *Server) treeCreated(ctx context.Context, tasks store.Batch) {
	armed := false
	for i := range tasks.Len() {
		t := tasks.Task(i)
		if t.IsRoot() {
			s.cfg.Engine.TreeCreated(ctx, t.ID)
		}
		armed = armed || store.Armed(t)
	}
	if armed {
		s.scheduleChanged()
	}
}

// oneOrMany is the reference result shape: one task alone, several as a flat array.
func oneOrMany(tasks []*task.Task) any {
	if len(tasks) == 1 {
		return tasks[0]
	}
	return tasks
}

func (s *Server) tasksCreate(ctx context.Context, c *call) (any, error) {
	key, keyed, err := createKey(c.params)
	if err != nil {
		return nil, err
	}
	if !keyed {
		// The answer lists the tasks: built once, stored and answered.
		tree, err := s.prepareTree(ctx, c.params)
		if err != nil {
			return nil, err
		}
		tasks := store.Collect(tree)
		if err := s.storeSubmission(ctx, store.Tasks(tasks)); err != nil {
			return nil, err
		}
		return oneOrMany(tasks), nil
	}
	k, err := s.newKey(ctx, key, idempotency.KindCreate, c.params)
	if err != nil {
		return nil, err
	}
	tree, rec, err := s.submitKeyed(ctx, c.params, k)
	switch {
	case err != nil:
		return nil, err
	case rec != nil:
		return s.replayCreate(ctx, *rec)
	}
	return oneOrMany(store.Collect(tree)), nil
}

// idParams are the params of methods that name one task.
type idParams struct {
	TaskID   string `json:"task_id"`
	ID       string `json:"id"`
	RootID   string `json:"root_id"`
	ParentID string `json:"parent_id"`
}

// one returns the task id the params name, under any of their aliases: task_id, id,
// root_id, parent_id. Aliases that name different tasks are refused, naming both, rather
// than one of them silently chosen; none is refused as task_id missing.
func (p idParams) one() (string, error) {
	var name, id string
	for _, a := range []struct{ name, v string }{{"task_id", p.TaskID}, {"id", p.ID}, {"root_id", p.RootID}, {"parent_id", p.ParentID}} {
		switch {
		case a.v == "" || a.v == id:
		case id == "":
			name, id = a.name, a.v
		default:
			return "", apferr.InvalidParam(a.name, fmt.Sprintf("%s %q and %s %q name different tasks; give one", name, id, a.name, a.v), "one task id", a.v)
		}
	}
	if id == "" {
		return "", apferr.InvalidParam("task_id", "task_id is required", "a task id", nil)
	}
	return id, nil
}

func (s *Server) taskFromParams(ctx context.Context, c *call) (*task.Task, error) {
	var p idParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	id, err := p.one()
	if err != nil {
		return nil, err
	}
	return s.visibleTask(ctx, id)
}

func (s *Server) tasksGet(ctx context.Context, c *call) (any, error) {
	t, err := s.taskFromParams(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.resolveLinks(ctx, []*task.Task{t})[0], nil
}

// resolveLinks returns tasks with every link (origin_type "link") shown with its original
// (task.Task.WithOriginal). A link whose original is gone or not visible to the caller is
// shown as stored. Other tasks are returned unchanged.
func (s *Server) resolveLinks(ctx context.Context, tasks []*task.Task) []*task.Task {
	var originals map[string]*task.Task
	cl := callerFrom(ctx)
	out := tasks
	for i, t := range tasks {
		if !t.IsLink() {
			continue
		}
		if originals == nil {
			originals = map[string]*task.Task{}
			out = append([]*task.Task(nil), tasks...)
		}
		o, seen := originals[t.OriginalTaskID]
		if !seen {
			got, err := s.cfg.Store.Get(ctx, t.OriginalTaskID)
			if err == nil && cl.sees(got.UserID) {
				o = got
			} else if err != nil {
				s.log.Debug("link original not found", "task_id", t.ID, "original_task_id", t.OriginalTaskID, "error", err)
			}
			originals[t.OriginalTaskID] = o
		}
		if o == nil {
			continue
		}
		out[i] = t.WithOriginal(o)
	}
	return out
}

func (s *Server) tasksTree(ctx context.Context, c *call) (any, error) {
	t, err := s.taskFromParams(ctx, c)
	if err != nil {
		return nil, err
	}
	all, err := s.cfg.Store.Tree(ctx, t.TreeID())
	if err != nil {
		return nil, fmt.Errorf("load tree of %s: %w", t.ID, err)
	}
	cl := callerFrom(ctx)
	seen := all[:0]
	for _, x := range all {
		if cl.sees(x.UserID) {
			seen = append(seen, x)
		}
	}
	node := task.BuildTree(s.resolveLinks(ctx, seen), t.ID)
	if node == nil {
		node = &task.TreeNode{Task: s.resolveLinks(ctx, []*task.Task{t})[0], Children: []*task.TreeNode{}}
	}
	var p struct {
		Fields []string `json:"fields"`
	}
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	if p.Fields == nil {
		return node, nil
	}
	f, err := task.SelectFields(p.Fields)
	if err != nil {
		return nil, apferr.InvalidParam("fields", err.Error(), "task field names: "+strings.Join(task.FieldNames(), ", "), p.Fields)
	}
	return projectTree(node, f)
}

// fieldsNode is a node of tasks.tree's answer whose task carries only the fields asked.
type fieldsNode struct {
	Task     json.RawMessage `json:"task"`
	Children []*fieldsNode   `json:"children"`
}

// projectTree is node with each task cut to the fields f.
func projectTree(node *task.TreeNode, f task.Fields) (*fieldsNode, error) {
	b, err := f.Marshal(node.Task)
	if err != nil {
		return nil, err
	}
	out := &fieldsNode{Task: b, Children: make([]*fieldsNode, 0, len(node.Children))}
	for _, c := range node.Children {
		pc, err := projectTree(c, f)
		if err != nil {
			return nil, err
		}
		out.Children = append(out.Children, pc)
	}
	return out, nil
}

func (s *Server) tasksChildren(ctx context.Context, c *call) (any, error) {
	t, err := s.taskFromParams(ctx, c)
	if err != nil {
		return nil, err
	}
	kids, err := s.cfg.Store.Children(ctx, t.ID)
	if err != nil {
		return nil, fmt.Errorf("load children of %s: %w", t.ID, err)
	}
	cl := callerFrom(ctx)
	out := make([]*task.Task, 0, len(kids))
	for _, k := range kids {
		if cl.sees(k.UserID) {
			out = append(out, k)
		}
	}
	return s.resolveLinks(ctx, out), nil
}

// searchParams are the filters tasks.list and tasks.count share besides user and
// status: executor, name (or id) and creation time.
type searchParams struct {
	Executor      string `json:"executor"`
	Name          string `json:"name"`
	CreatedAfter  string `json:"created_after"`
	CreatedBefore string `json:"created_before"`
}

// filter returns the store filter of p; a created_after or created_before that is not
// an ISO 8601 time is an InvalidParams error naming it.
func (p searchParams) filter() (store.Filter, error) {
	f := store.Filter{Method: p.Executor, Name: p.Name}
	var err error
	if p.CreatedAfter != "" {
		if f.CreatedAfter, err = parseTimeParam("created_after", p.CreatedAfter); err != nil {
			return store.Filter{}, err
		}
	}
	if p.CreatedBefore != "" {
		if f.CreatedBefore, err = parseTimeParam("created_before", p.CreatedBefore); err != nil {
			return store.Filter{}, err
		}
	}
	return f, nil
}

type listParams struct {
	searchParams
	UserID   string `json:"user_id"`
	Status   string `json:"status"`
	RootOnly *bool  `json:"root_only"`
	Limit    int    `json:"limit"`
	Offset   int    `json:"offset"`
}

func (s *Server) tasksList(ctx context.Context, c *call) (any, error) {
	var p listParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	f, err := p.filter()
	if err != nil {
		return nil, err
	}
	f.Status, f.UserID, f.RootOnly = task.Status(p.Status), s.userFilter(ctx, p.UserID), true
	f.Limit, f.Offset = p.Limit, p.Offset
	if p.RootOnly != nil {
		f.RootOnly = *p.RootOnly
	}
	if f.Limit == 0 {
		f.Limit = store.DefaultLimit
	}
	tasks, _, err := s.cfg.Store.List(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	if tasks == nil {
		tasks = []*task.Task{}
	}
	return s.resolveLinks(ctx, tasks), nil
}

// userFilter forces non-admin callers to their own tasks.
func (s *Server) userFilter(ctx context.Context, asked string) string {
	cl := callerFrom(ctx)
	if cl.admin {
		return asked
	}
	return cl.sub
}

type countParams struct {
	searchParams
	UserID     string   `json:"user_id"`
	RootOnly   bool     `json:"root_only"`
	Statuses   []string `json:"statuses"`
	TaskTreeID string   `json:"task_tree_id"`
}

func (s *Server) tasksCount(ctx context.Context, c *call) (any, error) {
	var p countParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	f, err := p.filter()
	if err != nil {
		return nil, err
	}
	statuses := task.Statuses
	if len(p.Statuses) > 0 {
		statuses = statuses[:0:0]
		for _, st := range p.Statuses {
			if !slices.Contains(statuses, task.Status(st)) { // each counted once: they add up to total
				statuses = append(statuses, task.Status(st))
			}
		}
	}
	user := s.userFilter(ctx, p.UserID)
	if p.TaskTreeID != "" {
		p.TaskTreeID = callerFrom(ctx).qualify(p.TaskTreeID) // as every task id a caller gives
	}
	f.UserID, f.RootOnly, f.TreeID = user, p.RootOnly, p.TaskTreeID
	counts, err := s.cfg.Store.CountByStatus(ctx, f) // one snapshot: the counts add up
	if err != nil {
		return nil, fmt.Errorf("tasks.count: %w", err)
	}
	out := map[string]any{}
	total := 0
	for _, st := range statuses {
		out[string(st)] = counts[st]
		total += counts[st]
	}
	out["total"] = total
	if user != "" {
		out["user_id"] = user
	}
	if p.RootOnly {
		out["root_only"] = true
	}
	if p.TaskTreeID != "" {
		out["task_tree_id"] = p.TaskTreeID
	}
	return out, nil
}

type cloneParams struct {
	TaskID      string         `json:"task_id"`
	OriginType  string         `json:"origin_type"`
	Recursive   *bool          `json:"recursive"`
	LinkTaskIDs []string       `json:"link_task_ids"`
	ResetFields map[string]any `json:"reset_fields"`
	Save        *bool          `json:"save"`
}

func (s *Server) tasksClone(ctx context.Context, c *call) (any, error) {
	var p cloneParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	if p.TaskID == "" {
		return nil, apferr.InvalidParam("task_id", "task_id is required", "a task id", nil)
	}
	src, err := s.visibleTask(ctx, p.TaskID)
	if err != nil {
		return nil, err
	}
	cl := callerFrom(ctx)
	links := cl.qualifyAll(p.LinkTaskIDs)
	for _, id := range links {
		if _, err := s.visibleTask(ctx, id); err != nil {
			return nil, err
		}
	}
	opts := engine.CloneOptions{Mode: p.OriginType, LinkTaskIDs: links, ResetFields: p.ResetFields,
		UserID: cl.stampUser()}
	if cl.ns != "" {
		if opts.NewID, err = cloneIDs(cl); err != nil {
			return nil, err
		}
	}
	if p.Recursive != nil {
		opts.Shallow = !*p.Recursive
	}
	if p.Save != nil {
		opts.DryRun = !*p.Save
	}
	tasks, err := s.cfg.Engine.Clone(ctx, src.ID, opts)
	if err != nil {
		return nil, err
	}
	return oneOrMany(s.resolveLinks(ctx, tasks)), nil
}

// cloneIDs returns the ids of a non-admin's clones: new ids in the caller's namespace.
// A namespace so long that they would exceed submit.MaxIDLen is refused (-32602).
func cloneIDs(cl caller) (func() string, error) {
	newID := func() string { return cl.qualify(task.NewID()) }
	if id := newID(); utf8.RuneCountInString(id) > submit.MaxIDLen {
		return nil, apferr.InvalidParam("task_id", fmt.Sprintf("the ids of the new tasks would be longer than %d characters once qualified with the caller's namespace, e.g. %q", submit.MaxIDLen, id),
			fmt.Sprintf("at most %d characters", submit.MaxIDLen), utf8.RuneCountInString(id))
	}
	return newID, nil
}

type deleteParams struct {
	TaskID string `json:"task_id"`
	Force  bool   `json:"force"`
}

// tasksDelete deletes a task and its descendants through the engine, which refuses while
// the tree runs and holds the lock that starts runs from the checks below to the commit.
func (s *Server) tasksDelete(ctx context.Context, c *call) (any, error) {
	var p deleteParams
	if err := decodeParams(c.params, &p); err != nil {
		return nil, err
	}
	t, err := s.visibleTask(ctx, p.TaskID)
	if err != nil {
		return nil, err
	}
	cl := callerFrom(ctx)
	deleted, err := s.cfg.Engine.Delete(ctx, t.ID, func(sub []*task.Task) error {
		return checkDeletable(t.ID, sub, cl, p.Force)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"success": true, "task_id": t.ID, "deleted_count": len(deleted), "children_deleted": len(deleted) - 1}, nil
}

// checkDeletable refuses (CannotDelete, data naming the tasks and the reason) the deletion
// of the subtree sub of id when a task of it belongs to another user, is the original of
// clones, is in_progress, or is not pending without force.
func checkDeletable(id string, sub []*task.Task, cl caller, force bool) error {
	refuse := func(reason string, tasks []string) error {
		return apferr.New(apferr.CannotDelete, fmt.Sprintf("Cannot delete task %s: %s", id, reason)).
			WithData(map[string]any{"task_id": id, "reason": reason, "tasks": tasks})
	}
	var bad []string
	for _, x := range sub {
		switch {
		case !cl.sees(x.UserID):
			return refuse("a descendant belongs to another user", []string{x.ID})
		case x.HasReferences:
			return refuse(fmt.Sprintf("task %s is the original of linked or copied tasks", x.ID), []string{x.ID})
		case x.Status == task.InProgress, x.Status != task.Pending && !force:
			bad = append(bad, fmt.Sprintf("%s (%s)", x.ID, x.Status))
		}
	}
	if len(bad) > 0 {
		return refuse("only pending tasks can be deleted (force: true also deletes completed, failed and cancelled ones, never in_progress)", bad)
	}
	return nil
}
