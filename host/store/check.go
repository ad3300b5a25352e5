package store

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

// The checks every backend makes before it writes, so that all of them refuse the same
// writes with the same errors.

// InvalidField returns the error (code InvalidParams) for a task field a store refuses.
func InvalidField(id, field, reason string) error {
	return apferr.New(apferr.InvalidParams, fmt.Sprintf("task %s: %s %s", id, field, reason)).
		WithData(map[string]any{"task_id": id, "field": field, "reason": reason})
}

// DeleteBlocked returns the error (code CannotDelete) of a Delete that would leave task
// blocking, a child or dependent (reason) of task id, behind.
func DeleteBlocked(id, blocking, reason string) error {
	return apferr.New(apferr.CannotDelete,
		fmt.Sprintf("Cannot delete task %s: task %s is its %s and is not deleted with it", id, blocking, reason)).
		WithData(map[string]any{"task_id": id, "blocking_task_id": blocking, "reason": reason})
}

// CheckNew checks the tasks of one Create before anything is stored: no nil task, no
// empty or repeated id, valid statuses, key fields that survive the wire form. It does
// not look at what is stored. It returns the ids of the tasks, in order. It reads each
// task of tasks once.
func CheckNew(tasks Batch) ([]string, error) {
	n := tasks.Len()
	ids := make([]string, n)
	seen := make(map[string]bool, n)
	for i := range n {
		t := tasks.Task(i)
		if t == nil {
			return nil, apferr.New(apferr.InvalidParams, fmt.Sprintf("task at index %d is null", i))
		}
		if t.ID == "" {
			return nil, InvalidField("", "id", "is empty")
		}
		if seen[t.ID] {
			return nil, Exists(t.ID)
		}
		seen[t.ID] = true
		if !t.Status.Valid() {
			return nil, InvalidField(t.ID, "status", fmt.Sprintf("%q is not a valid status", t.Status))
		}
		if err := CheckKeyFields(t); err != nil {
			return nil, err
		}
		ids[i] = t.ID
	}
	return ids, nil
}

// EncodeNew checks the tasks of one Create (CheckNew) and then returns each, in order,
// in the backend's stored form made by encode. Nothing is encoded unless every task
// passes the checks; the first error of encode is returned as it is.
func EncodeNew[T any](tasks []*task.Task, encode func(*task.Task) (T, error)) ([]T, error) {
	if _, err := CheckNew(Tasks(tasks)); err != nil {
		return nil, err
	}
	out := make([]T, len(tasks))
	for i, t := range tasks {
		var err error
		if out[i], err = encode(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CheckKeyFields refuses strings that would not survive the JSON round trip (the encoder
// replaces invalid UTF-8) or a database's text column (no NUL byte) in the fields that
// place a task: id, parent, tree, user, status and dependency ids. Stores index these
// fields, so a change on the way would file a task under a key it is not read back with;
// every backend refuses the same values.
func CheckKeyFields(t *task.Task) error {
	for _, f := range []struct{ name, v string }{
		{"id", t.ID}, {"parent_id", t.ParentID}, {"task_tree_id", t.TaskTreeID},
		{"user_id", t.UserID}, {"status", string(t.Status)},
	} {
		if reason := badKey(f.v); reason != "" {
			return InvalidField(t.ID, f.name, reason)
		}
	}
	for i, d := range t.Dependencies {
		if reason := badKey(d.ID); reason != "" {
			return InvalidField(t.ID, fmt.Sprintf("dependencies[%d].id", i), reason)
		}
	}
	return nil
}

// badKey says why s cannot be a key field, or "" when it can.
func badKey(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL byte"
	}
	return ""
}

// checkIdentity refuses a change of the fields that place a task.
func checkIdentity(old, next *task.Task) error {
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"id", old.ID != next.ID},
		{"parent_id", old.ParentID != next.ParentID},
		{"task_tree_id", old.TaskTreeID != next.TaskTreeID},
		{"user_id", old.UserID != next.UserID},
		{"created_at", !old.CreatedAt.Equal(next.CreatedAt)},
		{"seq", old.Seq != next.Seq},
	} {
		if f.changed {
			return InvalidField(old.ID, f.name, "cannot be changed")
		}
	}
	return nil
}

// Step is one mutation of an Update: it applies fn to a copy of cur (cur itself is never
// modified, so it may be shared) and checks the result: identity fields unchanged, a
// status change that task.CheckTransition allows, key fields that survive the wire form.
// updated_at is set to now (in UTC, at the microsecond precision of the wire form)
// unless fn changed it. Errors of fn are returned unchanged.
//
// fn may keep a reference to the task it was given: a store must not keep the returned
// task as its own state without copying it.
func Step(cur *task.Task, fn func(*task.Task) error, now time.Time) (*task.Task, error) {
	next := cur.Clone()
	if err := fn(next); err != nil {
		return nil, err
	}
	if err := checkIdentity(cur, next); err != nil {
		return nil, err
	}
	if err := task.CheckTransition(cur.Status, next.Status); err != nil {
		return nil, fmt.Errorf("task %s: %w", cur.ID, err)
	}
	if err := CheckKeyFields(next); err != nil {
		return nil, err
	}
	if next.UpdatedAt.Equal(cur.UpdatedAt) {
		next.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	}
	return next, nil
}
