package store

import (
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

// InvalidField returns the InvalidParams error for a task field a store cannot take,
// naming the task and the field: "task <id>: <field> <reason>".
func InvalidField(id, field, reason string) error {
	return apferr.New(apferr.InvalidParams, fmt.Sprintf("task %s: %s %s", id, field, reason)).
		WithData(map[string]any{"task_id": id, "field": field, "reason": reason})
}

// Apply is the checked step of Update and UpdateMany that every backend shares: it
// applies fn to a copy of cur and returns the copy, refusing a change of an identity
// field (id, parent_id, task_tree_id, user_id, created_at, seq) and a status change
// task.CheckTransition does not allow. updated_at is stamped with now unless fn set it.
// Errors of fn are returned unchanged. cur is never modified; fn may keep a reference to
// the copy, so a backend must not share the result with its caches.
func Apply(cur *task.Task, fn func(*task.Task) error, now time.Time) (*task.Task, error) {
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
	if next.UpdatedAt.Equal(cur.UpdatedAt) {
		next.UpdatedAt = now
	}
	return next, nil
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

// CheckKeyFields calls bad with every string field a backend indexes (id, parent_id,
// task_tree_id, user_id, status, dependencies[i].id) and returns InvalidField for the
// first one it gives a reason for ("" means fine). Each backend passes the rule of its
// storage (valid UTF-8; PostgreSQL also refuses NUL bytes).
func CheckKeyFields(t *task.Task, bad func(string) string) error {
	for _, f := range []struct{ name, v string }{
		{"id", t.ID}, {"parent_id", t.ParentID}, {"task_tree_id", t.TaskTreeID},
		{"user_id", t.UserID}, {"status", string(t.Status)},
	} {
		if reason := bad(f.v); reason != "" {
			return InvalidField(t.ID, f.name, reason)
		}
	}
	for i, d := range t.Dependencies {
		if reason := bad(d.ID); reason != "" {
			return InvalidField(t.ID, fmt.Sprintf("dependencies[%d].id", i), reason)
		}
	}
	return nil
}
