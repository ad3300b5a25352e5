package submit

import (
	"context"
	"fmt"
	"strings"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Prepare decodes and validates a submission and returns its tasks, ready for
// store.Create, in submission order. data is a tree file or the raw params of a
// tasks.create / tasks.execute call. Any failure is an *apferr.Error listing every
// problem (see [Validate]), except look-up and context errors, which are wrapped.
func Prepare(ctx context.Context, data []byte, opts Options) ([]*task.Task, error) {
	tree, err := PrepareTree(ctx, data, opts)
	if err != nil {
		return nil, err
	}
	return store.Collect(tree), nil
}

// PrepareTree is Prepare returning the tree, whose tasks are built when read
// ([Tree]): a large submission is not held whole as tasks.
func PrepareTree(ctx context.Context, data []byte, opts Options) (*Tree, error) {
	sub, err := Decode(data, opts)
	if err != nil {
		return nil, err
	}
	return ValidateTree(ctx, sub, opts)
}

// Validate checks a decoded submission as a whole and builds its tasks: names resolved
// to ids in parent_id and dependencies (duplicates collapsed, first kept), ids generated
// where absent, task_tree_id set to the root's (its given task_tree_id or its id),
// has_children set on parents, status pending, priority defaulted to 2, seq = index,
// created_at = updated_at = now, origin_type "create", user_id stamped. The tasks hold
// the specs' Inputs, Params and Schemas maps, not copies; tasks whose schemas hold a
// method alone share one Schemas map (Spec.Schemas): replace it, never modify it in place.
//
// Every problem found is reported in one *apferr.Error (see package doc for the order
// of classes and their codes); nothing is returned unless the whole submission is valid.
func Validate(ctx context.Context, sub *Submission, opts Options) ([]*task.Task, error) {
	tree, err := ValidateTree(ctx, sub, opts)
	if err != nil {
		return nil, err
	}
	return store.Collect(tree), nil
}

// ValidateTree is Validate returning the tree, whose tasks are built when read
// ([Tree]).
func ValidateTree(ctx context.Context, sub *Submission, opts Options) (*Tree, error) {
	opts = opts.withDefaults()
	v := &validator{opts: opts, specs: sub.Specs, c: newCollector(opts.MaxProblems)}
	for _, p := range sub.Problems {
		v.c.add(classStructure, p)
	}
	if len(v.specs) == 0 {
		if v.c.empty() {
			v.c.add(classStructure, apferr.Problem{Field: "tasks", Reason: "the submission has no tasks", Expected: "at least one task"})
		}
		return nil, v.c.err()
	}
	v.users()
	v.index()
	v.roots()
	v.parents()
	v.dependencies()
	v.priorities()
	v.schedules()
	if err := v.executors(); err != nil {
		return nil, err
	}
	if err := v.existing(ctx); err != nil {
		return nil, err
	}
	if err := v.c.err(); err != nil {
		return nil, err
	}
	return v.tree()
}

type validator struct {
	opts   Options
	specs  []*Spec
	c      *collector
	byID   map[string]int
	byName map[string]int
	parent []int   // index of the parent; -1 root, -2 unresolved
	deps   [][]dep // resolved, deduplicated dependencies
	userID string  // the user every task belongs to
}

type dep struct {
	to       int
	required bool
	key      string // task.Dependency.Key: the reference, when not the stored id
	given    bool   // key is the item's own "key" (not derived from the reference)
}

func (v *validator) add(cl class, s *Spec, field, reason string, expected, actual any) *apferr.Problem {
	p := taskProblem(s, field, reason)
	p.Expected, p.Actual = expected, actual
	v.c.add(cl, p)
	if n := len(v.c.byClass[cl]); n > 0 {
		return &v.c.byClass[cl][n-1]
	}
	return nil
}

// users checks that all tasks belong to one user, the caller's when Options.UserID is
// set, and picks it (Options.DefaultUserID when none is given).
func (v *validator) users() {
	v.userID = v.opts.UserID
	if v.userID != "" {
		for _, s := range v.specs {
			if s.UserID != "" && s.UserID != v.userID {
				v.add(classUser, s, "user_id", "a task may only be created for the calling user", v.userID, s.UserID)
			}
		}
		return
	}
	for _, s := range v.specs {
		switch {
		case s.UserID == "":
		case v.userID == "":
			v.userID = s.UserID
		case s.UserID != v.userID:
			v.add(classStructure, s, "user_id", "all tasks of a submission must share one user_id (or give none)", v.userID, s.UserID)
		}
	}
	if v.userID == "" {
		v.userID = v.opts.DefaultUserID
	}
}

// index maps ids and names to tasks, reporting duplicates.
func (v *validator) index() {
	v.byID = make(map[string]int, len(v.specs))
	v.byName = make(map[string]int, len(v.specs))
	for i, s := range v.specs {
		if s.ID != "" {
			if j, dup := v.byID[s.ID]; dup {
				v.add(classDuplicates, s, "id", fmt.Sprintf("duplicate id %q (also the id of task %s)", s.ID, v.label(j)), "unique id", s.ID)
			} else {
				v.byID[s.ID] = i
			}
		}
		if s.Name != "" {
			if j, dup := v.byName[s.Name]; dup {
				v.add(classDuplicates, s, "name", fmt.Sprintf("duplicate name %q (also the name of the task at index %d); names must be unique because they stand for ids", s.Name, j), "unique name", s.Name)
			} else {
				v.byName[s.Name] = i
			}
		}
	}
}

// resolve finds the task a reference names: by id first (the reference qualified with
// Options.Namespace, as the ids were), then by name (as given).
func (v *validator) resolve(ref string, byNameOnly bool) (int, bool) {
	if !byNameOnly {
		if i, ok := v.byID[v.opts.Namespace.Qualify(ref)]; ok {
			return i, true
		}
	}
	i, ok := v.byName[ref]
	return i, ok
}

// injectKey is the task.Dependency.Key of a reference resolved to task j: the key the
// item gives; else the reference itself when it named j by name, or by an id that is not
// stored (Options.LocalIDs); "" when it is j's stored id, under which its result is
// injected anyway.
func (v *validator) injectKey(d DepRef, j int) string {
	if d.Key != "" {
		return d.Key
	}
	if !d.ByName && !v.opts.LocalIDs {
		if i, ok := v.byID[v.opts.Namespace.Qualify(d.Ref)]; ok && i == j {
			return ""
		}
	}
	return d.Ref
}

// sharedInjectKey keeps every dependency of s under its own injection key (docs/
// semantics.md rule 11), where one result would otherwise silently replace another: a
// key derived from a reference (a name) that another dependency's id or key already
// takes is dropped, so that result goes under its id as before names were keys; a key
// the item gave ("key") that collides is a problem. deps and given are parallel.
func sharedInjectKey(s *Spec, deps []task.Dependency, given []dep) *apferr.Problem {
	seen := make(map[string]string, len(deps))
	for _, d := range deps {
		if d.Key == "" {
			seen[d.ID] = d.ID
		}
	}
	for k := range deps {
		d := &deps[k]
		if d.Key == "" {
			continue
		}
		if other, dup := seen[d.Key]; dup && other != d.ID {
			if !given[k].given {
				d.Key = ""
				continue
			}
			p := taskProblem(s, fmt.Sprintf("dependencies[%d].key", k), fmt.Sprintf("the results of tasks %s and %s would both be injected under %q", other, d.ID, d.Key))
			p.Code, p.Expected, p.Actual = apferr.InvalidDependency, "one injection key per dependency", d.Key
			return &p
		}
		seen[d.Key] = d.ID
	}
	return nil
}

// label names a task for messages: its name, else its id, else its index.
func (v *validator) label(i int) string {
	s := v.specs[i]
	switch {
	case s.Name != "":
		return s.Name
	case s.ID != "":
		return s.ID
	}
	return fmt.Sprintf("#%d", i)
}

func (v *validator) labels(idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = v.label(i)
	}
	return out
}

// roots checks that exactly one task has no parent_id.
func (v *validator) roots() {
	var roots []int
	for i, s := range v.specs {
		if s.Parent == "" {
			roots = append(roots, i)
		}
	}
	switch {
	case len(roots) == 0:
		v.c.add(classRoots, apferr.Problem{Field: "parent_id",
			Reason:   "no root task found: exactly one task must have no parent_id",
			Expected: 1, Actual: 0})
	case len(roots) > 1:
		names := v.labels(roots)
		for _, i := range roots {
			v.add(classRoots, v.specs[i], "parent_id", fmt.Sprintf(
				"multiple root tasks found (%s): exactly one task may have no parent_id; give the others a parent",
				strings.Join(names, ", ")), 1, len(roots))
		}
	}
}

// parents resolves parent references and finds parent cycles.
func (v *validator) parents() {
	v.parent = make([]int, len(v.specs))
	for i, s := range v.specs {
		if s.Parent == "" {
			v.parent[i] = -1
			continue
		}
		j, ok := v.resolve(s.Parent, false)
		if !ok {
			v.parent[i] = -2
			v.add(classParentRef, s, "parent_id", fmt.Sprintf(
				"parent_id %q is not the id or name of a task in this submission", s.Parent), "id or name of a task in the submission", s.Parent)
			continue
		}
		v.parent[i] = j
	}
	for _, cyc := range parentCycles(v.parent) {
		p := v.add(classParentCycle, v.specs[cyc[0]], "parent_id",
			"parent cycle: these tasks are each other's ancestors, so none of them belongs to the root's tree", "a chain of parents ending at the root", nil)
		if p != nil {
			p.Cycle = v.labels(cyc)
		}
	}
}

// dependencies resolves dependency references, collapses duplicates, and finds cycles.
func (v *validator) dependencies() {
	v.deps = make([][]dep, len(v.specs))
	graph := make([][]int, len(v.specs))
	for i, s := range v.specs {
		var seen map[int]bool
		for k, d := range s.Dependencies {
			field := fmt.Sprintf("dependencies[%d]", k)
			j, ok := v.resolve(d.Ref, d.ByName)
			switch {
			case !ok:
				what := "id or name"
				if d.ByName {
					what = "name"
				}
				v.add(classDepRef, s, field, fmt.Sprintf("dependency %q is not the %s of a task in this submission", d.Ref, what),
					what+" of a task in the submission", d.Ref)
				continue
			case j == i:
				v.add(classDepRef, s, field, "a task cannot depend on itself", "another task", d.Ref)
				continue
			case seen[j]:
				continue // duplicate reference: the first one counts
			}
			if seen == nil {
				seen = map[int]bool{}
			}
			seen[j] = true
			v.deps[i] = append(v.deps[i], dep{to: j, required: d.Required, key: v.injectKey(d, j), given: d.Key != ""})
			graph[i] = append(graph[i], j)
		}
	}
	for _, cyc := range depCycles(graph) {
		names := v.labels(cyc)
		p := v.add(classDepCycle, v.specs[cyc[0]], "dependencies",
			"circular dependency: each task of the cycle waits for the next", "no dependency cycle", nil)
		if p != nil {
			p.Cycle = names
		}
	}
}

func (v *validator) priorities() {
	for _, s := range v.specs {
		if s.Priority != nil && (*s.Priority < task.MinPriority || *s.Priority > task.MaxPriority) {
			v.add(classPriority, s, "priority", "Value out of range: 0 is the most urgent, 3 the least",
				fmt.Sprintf("%d-%d", task.MinPriority, task.MaxPriority), *s.Priority)
		}
	}
}

// schedules refuses an enabled schedule that would never run (schedule.NeverRuns).
func (v *validator) schedules() {
	now := v.opts.Now()
	for _, s := range v.specs {
		if !s.ScheduleEnabled { // the rest is NeverRuns'; this spares a task for each spec
			continue
		}
		t := &task.Task{}
		s.setSchedule(t)
		if field, reason := schedule.NeverRuns(t, now); field != "" {
			v.add(classSchedule, s, field, reason, "a schedule with a run after now", nil)
		}
	}
}

// method returns the executor id of a spec and the field it came from.
func method(s *Spec) (string, string) {
	if id, ok := s.Params["executor_id"].(string); ok && id != "" {
		return id, "params.executor_id"
	}
	id, _ := s.Schemas["method"].(string)
	return id, "schemas.method"
}

// executors checks that every task names a registered executor and that its static
// inputs satisfy the executor's input schema and the task's own schemas.input_schema.
func (v *validator) executors() error {
	type found struct {
		ok     bool
		schema *schema.Schema
	}
	cache := map[string]found{}
	taskSchemas := v.opts.TaskSchemas
	if taskSchemas == nil {
		taskSchemas = schema.NewTaskCache(0)
	}
	for _, s := range v.specs {
		id, field := method(s)
		if id == "" {
			v.add(classExecutor, s, "schemas.method",
				"every task needs schemas.method (an executor id); use aggregate_results_executor for a root that only groups",
				"executor id", nil)
		} else if v.opts.Catalog != nil {
			f, seen := cache[id]
			if !seen {
				h, err := v.opts.Catalog.Lookup(id)
				switch {
				case err == nil:
					f = found{ok: true}
					if info := h.Info(); info != nil {
						f.schema = info.Compiled
					}
					h.Release()
				case apferr.CodeOf(err) == apferr.ExecutorNotFound:
				default:
					return fmt.Errorf("look up executor %q for task %q: %w", id, v.label(s.Index), err)
				}
				cache[id] = f
			}
			if !f.ok {
				v.add(classExecutor, s, field, fmt.Sprintf("executor %q is not registered", id), "a registered executor id", id)
			} else if f.schema != nil {
				if err := v.checkInputs(s, f.schema, fmt.Sprintf("the input schema of executor %q", id)); err != nil {
					return err
				}
			}
		}
		if doc, ok := s.Schemas["input_schema"]; ok && doc != nil {
			sch, err := compileTaskSchema(taskSchemas, doc)
			if err != nil {
				v.add(classInputs, s, "schemas.input_schema", "not a valid JSON Schema: "+err.Error(), "a JSON Schema", nil)
				continue
			}
			if err := v.checkInputs(s, sch, "schemas.input_schema"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (v *validator) checkInputs(s *Spec, sch *schema.Schema, against string) error {
	problems, err := checkInputs(sch, s.Inputs, len(s.Dependencies) > 0)
	if err != nil {
		v.add(classInputs, s, "inputs", fmt.Sprintf("cannot be checked against %s: %v", against, err), nil, nil)
		return nil
	}
	for _, is := range problems {
		p := v.add(classInputs, s, is.Field("inputs"), fmt.Sprintf("does not satisfy %s: %s", against, is.Message), nil, nil)
		if p != nil {
			p.Path = append([]string{"inputs"}, is.Path...)
		}
	}
	return nil
}

// existing checks client-given ids (and a root's own task_tree_id) against storage.
// Local ids (Options.LocalIDs) are never stored: there is nothing to check.
func (v *validator) existing(ctx context.Context) error {
	if v.opts.LocalIDs {
		return nil
	}
	if v.opts.Exists != nil {
		for _, s := range v.specs {
			if s.ID == "" || v.byID[s.ID] != s.Index {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			ok, err := v.opts.Exists(ctx, s.ID)
			if err != nil {
				return fmt.Errorf("check whether task id %q exists: %w", s.ID, err)
			}
			if ok {
				v.add(classExists, s, "id", fmt.Sprintf("a task with id %q already exists", s.ID), "a new id", s.ID)
			}
		}
	}
	if v.opts.TreeExists != nil {
		for i, s := range v.specs {
			if v.parent[i] != -1 || s.TreeID == "" || s.TreeID == s.ID {
				continue
			}
			ok, err := v.opts.TreeExists(ctx, s.TreeID)
			if err != nil {
				return fmt.Errorf("check whether task tree %q exists: %w", s.TreeID, err)
			}
			if ok {
				v.add(classExists, s, "task_tree_id", fmt.Sprintf("task tree %q already exists", s.TreeID), "a new tree id", s.TreeID)
			}
		}
	}
	return nil
}
