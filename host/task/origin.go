package task

// OriginType says how a task came to be (wire: origin_type). A task made by a submission
// is OriginCreate; Clone makes OriginCopy and OriginLink tasks and marks frozen ones
// OriginArchive.
type OriginType string

// The origin types of a stored task.
const (
	// OriginCreate: submitted by tasks.create, tasks.execute or apflow run.
	OriginCreate OriginType = "create"
	// OriginCopy: a runnable copy of another task, reset to pending.
	OriginCopy OriginType = "copy"
	// OriginLink: a read-only reference to a completed task (OriginalTaskID); it is never
	// executed and shows its original's data and outcome.
	OriginLink OriginType = "link"
	// OriginArchive: a completed task frozen in place; it can no longer change.
	OriginArchive OriginType = "archive"
)

// TreeID returns the id of the tree t belongs to: TaskTreeID, or t's own id for a root
// stored without one.
func (t *Task) TreeID() string {
	if t.TaskTreeID != "" {
		return t.TaskTreeID
	}
	return t.ID
}

// IsLink reports whether t is a link to an original task whose data it shows.
func (t *Task) IsLink() bool { return t.OriginType == OriginLink && t.OriginalTaskID != "" }

// Frozen reports whether t is a link or an archived task: it never runs and never
// changes in a run (docs/semantics.md rule 16), so a tree holding one cannot be re-run in
// full.
func (t *Task) Frozen() bool { return t.IsLink() || t.OriginType == OriginArchive }
