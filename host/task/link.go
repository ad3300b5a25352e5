package task

// A link (OriginLink) stores no definition or result of its own: it stands for its
// original (OriginalTaskID). WithOriginalData and WithOriginal are the one rule for what
// a link takes from its original; the engine (dependency injection) and the API (every
// read of a task) both go through them.

// WithOriginalData returns a copy of link t carrying its original o's definition and
// result: inputs (and own inputs), params, schemas and result. It is what the link stands
// for as a dependency: its dependents get o's result, injected exactly as from o. The copy keeps
// t's identity, place and lifecycle (status, error, progress, timestamps), so a link in a
// run stays the completed task it was made as and is never executed.
//
// The copy shares maps and values with t and o: treat it as read-only.
func (t *Task) WithOriginalData(o *Task) *Task {
	c := *t
	c.Inputs, c.OwnInputs, c.Params, c.Schemas, c.Result = o.Inputs, o.OwnInputs, o.Params, o.Schemas, o.Result
	return &c
}

// WithOriginal returns a copy of link t as readers see it: its own identity and place
// (id, parent_id, task_tree_id, user_id, name, priority, dependencies, origin fields,
// created_at, updated_at) with o's data (WithOriginalData) and o's outcome (error,
// status, progress, started_at, completed_at, usage, plugin).
//
// The copy shares maps and values with t and o: treat it as read-only.
func (t *Task) WithOriginal(o *Task) *Task {
	c := t.WithOriginalData(o)
	c.Error, c.Status, c.Progress, c.StartedAt, c.CompletedAt = o.Error, o.Status, o.Progress, o.StartedAt, o.CompletedAt
	c.Usage, c.Plugin = o.Usage, o.Plugin
	return c
}
