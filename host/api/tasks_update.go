package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// tasksUpdate writes the fields given in flat params, through the engine: a task of a
// running tree is refused (-32008), and no run of the tree starts between that check and
// the write. The schema has already refused unknown fields and identity fields (id,
// parent_id, user_id, task_tree_id, ...) and checked types and ranges.
func (s *Server) tasksUpdate(ctx context.Context, c *call) (any, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(c.params, &fields); err != nil {
		return nil, apferr.InvalidParam("", "params must be an object", "object", nil)
	}
	var id string
	if err := json.Unmarshal(fields["task_id"], &id); err != nil || id == "" {
		return nil, apferr.InvalidParam("task_id", "task_id is required", "a task id", nil)
	}
	delete(fields, "task_id")
	t, err := s.visibleTask(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		return t, nil
	}
	var newDeps []task.Dependency
	if raw, ok := fields["dependencies"]; ok {
		if newDeps, err = s.checkDependencies(ctx, t, raw); err != nil {
			return nil, err
		}
	}
	var status task.Status
	if raw, ok := fields["status"]; ok {
		_ = json.Unmarshal(raw, &status)
	}
	// The executor the update leaves the task is looked up before the write, not in it: a
	// lookup may compile the plugin, and the store's writes would wait for it.
	method, err := s.checkMethodAhead(t, fields)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	update := s.cfg.Engine.Update
	if scheduleOnly(fields) {
		// Also while the tree runs: a schedule is bookkeeping beside the run (the
		// scheduler's own claims write it the same way), and a user must be able to
		// pause one whose runs are long.
		update = s.cfg.Store.Update
	}
	out, err := update(ctx, t.ID, func(t *task.Task) error {
		if newDeps != nil && t.Status != task.Pending {
			return depNotPending(t)
		}
		if err := applyUpdate(t, fields, status, newDeps, now); err != nil {
			return err
		}
		if t.Method() != method { // the stored task changed since it was read
			return s.checkMethod(t, fields)
		}
		return nil
	})
	if err == nil && store.Armed(out) {
		s.scheduleChanged()
	}
	return out, err
}

// checkMethodAhead checks, as checkMethod does, the executor an update of schemas or
// params leaves t (as read) with, and returns its id. It looks nothing up, and returns
// t's own, when the update changes neither field, when t is frozen, or when the new
// fields do not decode or the new params have a problem: the write refuses those, with
// its own errors, first.
func (s *Server) checkMethodAhead(t *task.Task, fields map[string]json.RawMessage) (string, error) {
	_, schemas := fields["schemas"]
	_, params := fields["params"]
	if !schemas && !params || t.Frozen() {
		return t.Method(), nil
	}
	probe := &task.Task{ID: t.ID, Schemas: t.Schemas, Params: t.Params}
	for _, k := range []string{"schemas", "params"} {
		if raw, ok := fields[k]; ok {
			if err := setField(probe, k, raw, nil); err != nil {
				return t.Method(), nil
			}
		}
	}
	if _, _, probs := task.CheckParams(nil, false, maps.Clone(probe.Params)); len(probs) > 0 {
		return t.Method(), nil
	}
	return probe.Method(), s.checkMethod(probe, fields)
}

// checkMethod refuses, when an update changes schemas or params, a task left without a
// registered executor (-32003 naming the task and the field), as a submission would be:
// it could only fail when it runs. Its inputs are checked against the executor's schema
// right before it runs, as every task's are.
func (s *Server) checkMethod(t *task.Task, fields map[string]json.RawMessage) error {
	_, schemas := fields["schemas"]
	_, params := fields["params"]
	if !schemas && !params {
		return nil
	}
	field := "schemas.method"
	if id, ok := t.Params["executor_id"].(string); ok && id != "" {
		field = "params.executor_id"
	}
	id := t.Method()
	if id == "" {
		return apferr.New(apferr.InvalidParams, fmt.Sprintf("Invalid params: task %s: %s: every task needs an executor id", t.ID, field)).
			WithData(map[string]any{"task_id": t.ID, "field": field, "reason": "every task needs an executor id"})
	}
	h, err := s.cfg.Catalog.Lookup(id)
	if err != nil {
		if apferr.CodeOf(err) == apferr.ExecutorNotFound {
			return apferr.New(apferr.ExecutorNotFound, fmt.Sprintf("Task %s: %s: executor %q is not registered", t.ID, field, id)).
				WithData(map[string]any{"task_id": t.ID, "field": field, "executor_id": id})
		}
		return fmt.Errorf("look up executor %q of task %s: %w", id, t.ID, err)
	}
	h.Release()
	return nil
}

// scheduleOnly reports whether an update changes nothing but a task's schedule
// (scheduleFields, next_run_at and last_run_at).
func scheduleOnly(fields map[string]json.RawMessage) bool {
	for k := range fields {
		if !slices.Contains(scheduleFields, k) && k != "next_run_at" && k != "last_run_at" {
			return false
		}
	}
	return len(fields) > 0
}

// applyUpdate writes fields onto t. A status change goes through the lifecycle methods,
// which keep the status/field consistency rules and refuse illegal edges (-32006);
// result and error given with it are its outcome.
func applyUpdate(t *task.Task, fields map[string]json.RawMessage, status task.Status, deps []task.Dependency, now time.Time) error {
	used := map[string]bool{}
	if status != "" && status != t.Status {
		// The outcome the new status takes; a result or error it does not take is
		// checked below against the task's new status (outcomeField), and refused,
		// unless null (a client sending a whole task back).
		var result any
		var msg string
		if raw, ok := fields["result"]; ok && (takesResult(status) || isNull(raw)) {
			result, _ = decodeAny(raw)
			used["result"] = true
		}
		if raw, ok := fields["error"]; ok && (takesError(status) || isNull(raw)) {
			_ = json.Unmarshal(raw, &msg)
			used["error"] = true
		}
		var err error
		switch status {
		case task.Pending:
			err = t.Reset(now)
		case task.InProgress:
			err = t.Start(now)
		case task.Completed:
			err = t.Complete(result, now)
		case task.Failed:
			err = t.Fail(msg, result, now)
		case task.Cancelled:
			err = t.Cancel(msg, now)
		default:
			err = task.CheckTransition(t.Status, status)
		}
		if err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if used[k] || k == "status" {
			continue
		}
		if err := outcomeField(t, k, fields[k]); err != nil {
			return taskParam(t, err)
		}
		if err := setField(t, k, fields[k], deps); err != nil {
			return err
		}
	}
	if err := checkParams(t, fields); err != nil {
		return err
	}
	if err := reschedule(t, fields, now); err != nil {
		return err
	}
	if _, ok := fields["params"]; ok {
		if _, err := schedule.PolicyOf(t); err != nil {
			var fe *schedule.FieldError
			errors.As(err, &fe)
			return taskParam(t, apferr.InvalidParam(fe.Field, fe.Err.Error(), "a schedule policy (docs/schedules.md)", nil))
		}
	}
	t.UpdatedAt = now
	return nil
}

// takesResult and takesError report whether a task of status s has a result (completed,
// failed) and an error message (failed, cancelled): docs/semantics.md rule 2.
func takesResult(s task.Status) bool { return s == task.Completed || s == task.Failed }

func takesError(s task.Status) bool { return s == task.Failed || s == task.Cancelled }

// isNull reports whether a field's value is JSON null.
func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// outcomeField refuses a write of field k that would break the rule that a task's
// fields follow its status (docs/semantics.md rule 2), given without a status change:
// progress and the timestamps are stamped by the lifecycle alone, a result belongs to a
// completed or failed task, an error (not empty) to a failed or cancelled one.
func outcomeField(t *task.Task, k string, raw json.RawMessage) *apferr.Error {
	null := isNull(raw)
	switch {
	case k == "progress" || k == "started_at" || k == "completed_at":
		return apferr.InvalidParam(k, k+" is stamped by the task's lifecycle (started, completed, failed, cancelled, reset) and cannot be written", nil, nil)
	case k == "result" && !takesResult(t.Status):
		return apferr.InvalidParam(k, fmt.Sprintf("a %s task has no result; give result with status completed or failed (from in_progress), or on a task that is one", t.Status), nil, nil)
	case k == "error" && !takesError(t.Status):
		return apferr.InvalidParam(k, fmt.Sprintf("a %s task has no error; give error with status cancelled (its message), or on a failed or cancelled task", t.Status), nil, nil)
	case k == "error" && (null || bytes.Equal(bytes.TrimSpace(raw), []byte(`""`))):
		return apferr.InvalidParam(k, fmt.Sprintf("a %s task keeps an error message; give one that is not empty", t.Status), "a message", nil)
	}
	return nil
}

// scheduleFields are the fields that decide when a scheduled task runs next.
var scheduleFields = []string{"schedule_type", "schedule_expression", "schedule_enabled", "schedule_start_at",
	"schedule_end_at", "schedule_timezone", "max_runs", "run_count"}

// reschedule checks a changed schedule and recomputes next_run_at, unless the update
// sets next_run_at itself.
func reschedule(t *task.Task, fields map[string]json.RawMessage, now time.Time) error {
	changed := slices.ContainsFunc(scheduleFields, func(k string) bool { _, ok := fields[k]; return ok })
	if !changed {
		return nil
	}
	if t.ScheduleEnabled && (t.ScheduleType == "" || t.ScheduleExpression == "") {
		return taskParam(t, apferr.InvalidParam("schedule_enabled", "an enabled schedule needs schedule_type and schedule_expression", "schedule_type and schedule_expression set", true))
	}
	if t.ScheduleType != "" && t.ScheduleExpression != "" {
		if _, err := schedule.Of(t); err != nil {
			var fe *schedule.FieldError
			errors.As(err, &fe)
			return taskParam(t, apferr.InvalidParam(fe.Field, fe.Err.Error(), nil, nil))
		}
	}
	if field, reason := schedule.NeverRuns(t, now); field != "" {
		return taskParam(t, apferr.InvalidParam(field, reason, "a schedule with a run after now", nil))
	}
	if _, ok := fields["next_run_at"]; ok {
		return nil
	}
	next, err := schedule.NextRun(t, now)
	if err != nil {
		return taskParam(t, apferr.InvalidParam("schedule_expression", err.Error(), nil, nil))
	}
	t.NextRunAt = next
	return nil
}

func decodeAny(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// setField writes one non-status field. Types were checked by the schema; the decode
// errors below only guard against a schema that drifted.
func setField(t *task.Task, k string, raw json.RawMessage, deps []task.Dependency) error {
	null := isNull(raw)
	str := func(dst *string) error {
		if null {
			*dst = ""
			return nil
		}
		return json.Unmarshal(raw, dst)
	}
	obj := func(dst *map[string]any) error {
		if null {
			*dst = nil
			return nil
		}
		v, err := decodeAny(raw)
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("not an object")
		}
		*dst = m
		return nil
	}
	ts := func(dst *time.Time) error {
		var s string
		if err := str(&s); err != nil {
			return err
		}
		if s == "" {
			*dst = time.Time{}
			return nil
		}
		v, err := task.ParseTime(s)
		if err != nil {
			return err
		}
		*dst = v
		return nil
	}
	var err error
	switch k {
	case "name":
		err = str(&t.Name)
	case "priority":
		err = wholeInt(raw, &t.Priority)
	case "progress":
		err = json.Unmarshal(raw, &t.Progress)
	case "error":
		err = str(&t.Error)
	case "result":
		t.Result, err = decodeAny(raw)
	case "inputs":
		var own map[string]any
		if err = obj(&own); err == nil {
			t.SetOwnInputs(own)
		}
	case "params":
		err = obj(&t.Params) // checked with the limits: checkParams
	case "limits": // checkParams
	case "schemas":
		err = obj(&t.Schemas)
	case "dependencies":
		t.Dependencies = deps
	case "started_at":
		err = ts(&t.StartedAt)
	case "completed_at":
		err = ts(&t.CompletedAt)
	case "schedule_type":
		err = str(&t.ScheduleType)
	case "schedule_expression":
		err = str(&t.ScheduleExpression)
	case "schedule_enabled":
		err = json.Unmarshal(raw, &t.ScheduleEnabled)
	case "schedule_start_at":
		err = ts(&t.ScheduleStartAt)
	case "schedule_end_at":
		err = ts(&t.ScheduleEndAt)
	case "schedule_timezone":
		err = str(&t.ScheduleTimezone)
	case "next_run_at":
		err = ts(&t.NextRunAt)
	case "last_run_at":
		err = ts(&t.LastRunAt)
	case "max_runs":
		if null {
			t.MaxRuns = 0
		} else {
			err = wholeInt(raw, &t.MaxRuns)
		}
	case "run_count":
		err = wholeInt(raw, &t.RunCount)
	default:
		return apferr.InvalidParam(k, "this field cannot be updated", nil, nil)
	}
	if err != nil {
		return apferr.InvalidParam(k, err.Error(), nil, nil)
	}
	return nil
}

// checkParams checks the params setField wrote as a submission does (task.CheckParams)
// and sets t's limits from an update's limits or params.limits, moved out of those
// params; an update that gives neither keeps them. Its error names the task, and every
// problem.
func checkParams(t *task.Task, fields map[string]json.RawMessage) error {
	raw, given := fields["limits"]
	var top any
	if given {
		top, _ = decodeAny(raw) // the schema checked it is an object or null
	}
	var params map[string]any
	if _, ok := fields["params"]; ok {
		params = t.Params
	}
	l, set, probs := task.CheckParams(top, given, params)
	if len(probs) > 0 {
		first := probs[0]
		e := apferr.InvalidParam(first.Field, first.Reason, first.Expected, first.Actual)
		e.Message = "Invalid params: " + task.DescribeProblems(probs)
		return taskParam(t, e)
	}
	if set {
		t.Limits = l
	}
	return nil
}

// taskParam names t in e, an invalid-params error of an update of t: in its message and
// its data's task_id.
func taskParam(t *task.Task, e *apferr.Error) error {
	e.Message = strings.Replace(e.Message, "Invalid params: ", fmt.Sprintf("Invalid params: task %s: ", t.ID), 1)
	if d, ok := e.Data.(map[string]any); ok {
		d["task_id"] = t.ID
	}
	return e
}

func depNotPending(t *task.Task) error {
	return apferr.New(apferr.InvalidParams,
		fmt.Sprintf("Task %s: dependencies can only change while the task is pending (it is %s)", t.ID, t.Status)).
		WithData(map[string]any{"task_id": t.ID, "field": "dependencies", "reason": "task is not pending", "current_status": string(t.Status)})
}

// checkDependencies resolves and checks a new dependency list for t: the task must be
// pending and have no running dependents; every reference must name a task of the same
// tree (by id or name), not t itself, and the new edges must not close a cycle. Every
// problem is reported at once.
func (s *Server) checkDependencies(ctx context.Context, t *task.Task, raw json.RawMessage) ([]task.Dependency, error) {
	if t.Status != task.Pending {
		return nil, depNotPending(t)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, apferr.InvalidParam("dependencies", "must be an array", "array", nil)
	}
	tree, err := s.cfg.Store.Tree(ctx, t.TreeID())
	if err != nil {
		return nil, fmt.Errorf("load tree of %s: %w", t.ID, err)
	}
	byID := make(map[string]*task.Task, len(tree))
	byName := make(map[string]*task.Task, len(tree))
	for _, x := range tree {
		byID[x.ID] = x
		byName[x.Name] = x
	}
	cl := callerFrom(ctx)
	var probs []apferr.Problem
	add := func(code apferr.Code, i int, reason string, actual any, cycle []string) {
		probs = append(probs, apferr.Problem{Code: code, TaskID: t.ID, TaskName: t.Name,
			Field: fmt.Sprintf("dependencies[%d]", i), Reason: reason, Actual: actual, Cycle: cycle})
	}
	deps := make([]task.Dependency, 0, len(items))
	seen := map[string]bool{}
	for i, it := range items {
		var ref struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Required *bool  `json:"required"`
			Key      string `json:"key"`
		}
		var bare string
		if json.Unmarshal(it, &bare) == nil {
			ref.ID = bare
		} else if err := json.Unmarshal(it, &ref); err != nil || (ref.ID == "" && ref.Name == "") {
			add(apferr.InvalidParams, i, "a dependency is a task id, {\"id\", \"required\"} or {\"name\"}", string(it), nil)
			continue
		}
		ref.ID = cl.qualify(ref.ID)
		target := byID[ref.ID]
		if target == nil && ref.ID == "" {
			target = byName[ref.Name]
		}
		label := ref.ID
		if label == "" {
			label = ref.Name
		}
		switch {
		case target == nil:
			add(apferr.InvalidDependency, i, fmt.Sprintf("%q is not a task of the same tree", label), label, nil)
			continue
		case target.ID == t.ID:
			add(apferr.CircularDependency, i, "a task cannot depend on itself", label, []string{t.ID, t.ID})
			continue
		}
		if seen[target.ID] {
			continue
		}
		seen[target.ID] = true
		req := true
		if ref.Required != nil {
			req = *ref.Required
		}
		deps = append(deps, task.Dependency{ID: target.ID, Required: req, Key: updatedKey(t, ref.Key, ref.Name, target.ID)})
	}
	// The references that resolved are checked for a cycle too: every problem at once.
	if cycle := findCycle(tree, t.ID, deps); cycle != nil {
		probs = append(probs, apferr.Problem{Code: apferr.CircularDependency, TaskID: t.ID, TaskName: t.Name,
			Field: "dependencies", Reason: "the new dependencies close a cycle", Cycle: cycle})
	}
	for _, x := range tree {
		if x.Status != task.InProgress {
			continue
		}
		for _, d := range x.Dependencies {
			if d.ID == t.ID {
				probs = append(probs, apferr.Problem{Code: apferr.InvalidParams, TaskID: t.ID, TaskName: t.Name,
					Field: "dependencies", Reason: fmt.Sprintf("dependent task %s is executing", x.ID), Actual: x.ID})
			}
		}
	}
	if len(probs) > 0 {
		return nil, apferr.Problems(probs)
	}
	return deps, nil
}

// findCycle looks for a dependency cycle through changed after replacing its
// dependencies with deps; it returns the path (first element repeated at the end) or nil.
func findCycle(tree []*task.Task, changed string, deps []task.Dependency) []string {
	edges := make(map[string][]string, len(tree))
	for _, x := range tree {
		for _, d := range x.Dependencies {
			edges[x.ID] = append(edges[x.ID], d.ID)
		}
	}
	edges[changed] = nil
	for _, d := range deps {
		edges[changed] = append(edges[changed], d.ID)
	}
	// Iterative DFS from changed; a path back to changed is the cycle.
	type frame struct {
		id   string
		next int
	}
	stack := []frame{{id: changed}}
	onPath := map[string]bool{changed: true}
	visited := map[string]bool{}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next >= len(edges[top.id]) {
			onPath[top.id] = false
			visited[top.id] = true
			stack = stack[:len(stack)-1]
			continue
		}
		nxt := edges[top.id][top.next]
		top.next++
		if nxt == changed {
			path := make([]string, 0, len(stack)+1)
			for _, f := range stack {
				path = append(path, f.id)
			}
			return append(path, changed)
		}
		if visited[nxt] || onPath[nxt] {
			continue
		}
		onPath[nxt] = true
		stack = append(stack, frame{id: nxt})
	}
	return nil
}

// updatedKey is the injection key (task.Dependency.Key) of a dependency tasks.update
// sets on t: the key the item gives; else the name it referred to the target by; else
// the key t's current dependency on the same target has, so that re-sending a task's
// dependencies (to change one "required") does not move results its templates read.
func updatedKey(t *task.Task, given, byName, targetID string) string {
	switch {
	case given != "":
		return given
	case byName != "":
		return byName
	}
	for _, d := range t.Dependencies {
		if d.ID == targetID {
			return d.Key
		}
	}
	return ""
}
