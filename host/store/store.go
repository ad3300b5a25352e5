// Package store defines how tasks are persisted: the [Store] interface that the engine, the
// API and the CLI consume, the query [Filter], and the errors every implementation returns.
//
// Guarantees every implementation must give (checked by the conformance suite in
// host/store/storetest):
//   - Create stores a whole submission atomically, or nothing.
//   - Update and UpdateMany are read-modify-write transactions; every status change is
//     checked with task.CheckTransition and an illegal one leaves the task unchanged.
//     UpdateMany is all-or-nothing. A returned nil error means the change is committed:
//     visible to every later read and, in a durable backend (badgerstore), durable.
//   - Identity fields (id, parent_id, task_tree_id, user_id, created_at, seq) never change
//     through Update.
//   - Reads return copies: callers may modify what they get. Every read, and the result
//     of every write, is the task as its wire form (task.Task's JSON) decodes: times in
//     UTC at microsecond precision, numbers as json.Number, null inputs and dependencies
//     as empty.
//   - Writes are checked with the helpers of this package (CheckNew, Step), so every
//     backend refuses the same writes with the same errors.
//   - Concurrent Update calls are safe and may share one durable commit (group commit).
//
// Every backend also keeps idempotency keys ([Keys], checked by storetest.RunKeys): a key
// is recorded in the transaction that stores the tree it names.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/task"
)

// Filter selects tasks for List and Count. Zero fields do not filter; set fields combine
// (a task matches all of them).
//
// Cost: Status, UserID, TreeID, ParentID, RootOnly, CreatedAfter and CreatedBefore are
// answered from what the backends index (no task is decoded to filter on them). Method
// and Name are not indexed: a backend that keeps tasks encoded (badgerstore) decodes
// every candidate the indexed fields leave to match them, so pair them with an indexed
// field (RootOnly, UserID, a time range) on a large store.
type Filter struct {
	Status   task.Status // only tasks in this status
	UserID   string      // only tasks of this user
	TreeID   string      // only tasks of this tree
	ParentID string      // only direct children of this task
	RootOnly bool        // only roots (parent_id null)
	// Method keeps only tasks whose executor is this id, as task.Task.Method decides it
	// (params.executor_id when set, else schemas.method).
	Method string
	// Name keeps the tasks whose name contains it, ignoring case (both lower-cased), and
	// the task whose id is exactly it, so one search box finds a tree by name or by id.
	// No character is special (no wildcards). Pitfall: pgstore lower-cases with the
	// database's locale, which may fold only ASCII letters (the C locale).
	Name string
	// CreatedAfter keeps tasks created at or after it; CreatedBefore those created before
	// it (exclusive). The zero time leaves that end unbounded. Times compare at the
	// microsecond precision stored; a task without created_at matches neither bound.
	CreatedAfter, CreatedBefore time.Time
	Limit                       int // page size; 0 means DefaultLimit, capped at MaxLimit
	Offset                      int // tasks to skip
}

// ReadsTasks reports whether f sets a field that needs the task itself to match (Method
// or Name), not only what the backends index.
func (f Filter) ReadsTasks() bool { return f.Method != "" || f.Name != "" }

// MatchesTask reports whether t matches f.Method and f.Name (true when neither is set):
// the one definition of both that the backends matching in Go use.
func (f Filter) MatchesTask(t *task.Task) bool { return f.MatchesNamed(t.ID, t.Name, t.Method()) }

// MatchesNamed is MatchesTask for a task known by its id, name and executor (Method).
func (f Filter) MatchesNamed(id, name, method string) bool {
	if f.Method != "" && method != f.Method {
		return false
	}
	return f.Name == "" || id == f.Name ||
		strings.Contains(strings.ToLower(name), strings.ToLower(f.Name))
}

// MatchesCreated reports whether created_at, in Unix microseconds (0 for none), is in
// [f.CreatedAfter, f.CreatedBefore).
func (f Filter) MatchesCreated(createdMicros int64) bool {
	if f.CreatedAfter.IsZero() && f.CreatedBefore.IsZero() {
		return true
	}
	if createdMicros == 0 {
		return false
	}
	return (f.CreatedAfter.IsZero() || createdMicros >= f.CreatedAfter.UnixMicro()) &&
		(f.CreatedBefore.IsZero() || createdMicros < f.CreatedBefore.UnixMicro())
}

// Page sizes of List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Mutation is one change of UpdateMany: Fn modifies the task with the given ID in place.
type Mutation struct {
	ID string
	Fn func(*task.Task) error
}

// Store persists tasks.
type Store interface {
	// Create stores the tasks of one submission in one transaction. If any id already
	// exists nothing is stored and the error has code InvalidParams naming the id. Tasks
	// CheckNew refuses are refused with its error.
	Create(ctx context.Context, tasks []*task.Task) error
	// Get returns the task, or an error with code TaskNotFound.
	Get(ctx context.Context, id string) (*task.Task, error)
	// List returns one page of the tasks matching f, newest first (created_at, then seq,
	// descending, then id), and the total number of matches.
	List(ctx context.Context, f Filter) ([]*task.Task, int, error)
	// Count returns the number of tasks matching f (Limit and Offset are ignored).
	Count(ctx context.Context, f Filter) (int, error)
	// CountByStatus returns the number of tasks matching f for each status, every count
	// read at the same point in time, so that they add up to a number of tasks that was
	// stored at that point even while tasks change status. Statuses without tasks may be
	// absent. f.Status, Limit and Offset are ignored.
	CountByStatus(ctx context.Context, f Filter) (map[task.Status]int, error)
	// Children returns the direct children of a task, by priority, then seq, then id.
	Children(ctx context.Context, parentID string) ([]*task.Task, error)
	// Tree returns every task of a tree in submission order (seq, then id); empty if
	// none.
	Tree(ctx context.Context, treeID string) ([]*task.Task, error)
	// Dependents returns the tasks that list id in their dependencies, in submission
	// order (seq, then id).
	Dependents(ctx context.Context, id string) ([]*task.Task, error)
	// Update applies fn to the stored task in a transaction and returns the task as
	// stored. If fn returns an error, nothing is written and that error is returned.
	Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error)
	// UpdateMany applies every mutation in one transaction, in order (a later mutation of
	// the same task sees the earlier one), all or nothing.
	UpdateMany(ctx context.Context, muts []Mutation) ([]*task.Task, error)
	// Delete removes the given tasks in one transaction. It refuses (code CannotDelete),
	// deleting nothing, when a task outside ids is a child or dependent of one inside,
	// and fails with TaskNotFound, deleting nothing, when an id does not exist. A parent
	// it leaves without a child gets has_children false in the same transaction
	// (EmptiedParents).
	Delete(ctx context.Context, ids []string) error
	// Close releases the store. Pending commits are flushed first. Every later call
	// fails (ErrClosed); Close itself may be called again and returns nil.
	Close() error
}

// ErrClosed is returned by every method of a store called after its Close.
var ErrClosed = errors.New("task store is closed")

// NotFound returns the error for a missing task.
func NotFound(id string) error {
	return apferr.New(apferr.TaskNotFound, fmt.Sprintf("Task %s not found", id)).
		WithData(map[string]any{"task_id": id})
}

// Exists returns the error for a task id that is already stored.
func Exists(id string) error {
	return apferr.New(apferr.InvalidParams, fmt.Sprintf("Task id %q already exists", id)).
		WithData(map[string]any{"task_id": id, "field": "id", "reason": "already exists"})
}

// CannotDelete returns the error of a Delete that would leave task blocking, a child or
// dependent (relation) of task id, behind.
func CannotDelete(id, blocking, relation string) error {
	return apferr.New(apferr.CannotDelete,
		fmt.Sprintf("Cannot delete task %s: task %s is its %s and is not deleted with it", id, blocking, relation)).
		WithData(map[string]any{"task_id": id, "blocking_task_id": blocking, "reason": relation})
}

// RootOf climbs the parent links of t to the root of its tree, reading parents with
// get. A parent cycle (a corrupt store) is an error with code TreeValidation.
func RootOf(ctx context.Context, get func(context.Context, string) (*task.Task, error), t *task.Task) (*task.Task, error) {
	seen := map[string]bool{}
	for !t.IsRoot() {
		if seen[t.ID] {
			return nil, apferr.New(apferr.TreeValidation, fmt.Sprintf("parent cycle through task %s", t.ID)).
				WithData(map[string]any{"task_id": t.ID})
		}
		seen[t.ID] = true
		p, err := get(ctx, t.ParentID)
		if err != nil {
			return nil, fmt.Errorf("find root of task %s: %w", t.ID, err)
		}
		t = p
	}
	return t, nil
}

// SubmissionOrder is the order of Tree, Dependents and ScanTree: seq (the task's position
// in its submission), then id.
func SubmissionOrder(a, b *task.Task) int {
	return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.ID, b.ID))
}
