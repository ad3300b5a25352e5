package submit

import (
	"context"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Default limits of a submission.
const (
	// DefaultMaxBytes is the largest submission accepted when Options.MaxBytes is 0.
	DefaultMaxBytes = 32 << 20
	// DefaultMaxDepth is the deepest nesting of JSON arrays and objects accepted when
	// Options.MaxDepth is 0. The task list itself counts as one level.
	DefaultMaxDepth = 256
	// DefaultMaxProblems is how many problems one error lists when Options.MaxProblems
	// is 0; the rest are counted in a final summary problem.
	DefaultMaxProblems = 200
	// MaxNameLen and MaxIDLen bound task names and ids, in characters.
	MaxNameLen = 255
	MaxIDLen   = 255
)

// Options configure decoding and validation. The zero value decodes and checks the
// structure of a tree, without executor or storage look-ups.
type Options struct {
	// Catalog resolves executors. When nil, executor existence and executor input
	// schemas are not checked (every task must still name an executor).
	Catalog executor.Catalog
	// Exists reports whether a task id is already stored. When nil, client-given ids
	// are not checked against storage (store.Create still refuses duplicates).
	Exists func(ctx context.Context, id string) (bool, error)
	// TreeExists reports whether a task tree id is already used. It is consulted only
	// when the root gives a task_tree_id different from its own id. May be nil.
	TreeExists func(ctx context.Context, treeID string) (bool, error)
	// UserID, when set, is stamped on every task; a task that names another user_id is
	// a problem (code Unauthorized). When empty, tasks keep the user_id they give,
	// which must be the same for all of them or absent.
	UserID string
	// DefaultUserID, when UserID is empty and no task gives a user_id, is the user of
	// every task (an administrator's own submission through the API). May be empty.
	DefaultUserID string
	// Namespace, when set, owner-qualifies the submission (docs/decisions.md §12):
	// Decode qualifies every task's id and task_tree_id as it reads them (so every check
	// and message sees the qualified id, and MaxIDLen applies to it), Validate resolves
	// parent_id and dependency references by their qualified id (then by name, as
	// given), and generated ids are qualified too. Give Decode and Validate the same
	// Namespace (Prepare does).
	Namespace task.Namespace
	// LocalIDs makes the ids a submission gives names local to it (apflow run of a tree
	// file): parent_id and dependencies resolve them as ever, but every task is stored
	// under a generated id and the tree's id is its root's, so the same file can be
	// submitted again. Given ids and task_tree_id are then not checked against storage.
	LocalIDs bool
	// Now returns the creation time; default time.Now.
	Now func() time.Time
	// NewID generates ids for tasks that do not give one; default task.NewID (a
	// time-ordered UUID, version 7). With a Namespace, the generated id is qualified.
	NewID func() string
	// MaxBytes, MaxDepth and MaxProblems override DefaultMaxBytes, DefaultMaxDepth and
	// DefaultMaxProblems when positive.
	MaxBytes    int
	MaxDepth    int
	MaxProblems int
	// TaskSchemas compiles tasks' own schemas.input_schema, each distinct document once
	// while cached; nil means a schema.NewTaskCache for this submission only. Pass the
	// engine's (engine.Config.TaskSchemas) to compile a schema once per process.
	TaskSchemas *schema.Cache
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = task.NewID
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxProblems <= 0 {
		o.MaxProblems = DefaultMaxProblems
	}
	return o
}

// ExistsIn returns an Options.Exists backed by a task store: an id is taken when the
// store has a task with it.
func ExistsIn(st store.Store) func(ctx context.Context, id string) (bool, error) {
	return func(ctx context.Context, id string) (bool, error) {
		_, err := st.Get(ctx, id)
		switch {
		case err == nil:
			return true, nil
		case apferr.CodeOf(err) == apferr.TaskNotFound:
			return false, nil
		}
		return false, err
	}
}

// TreeExistsIn returns an Options.TreeExists backed by a task store: a tree id is taken
// when any stored task belongs to that tree.
func TreeExistsIn(st store.Store) func(ctx context.Context, treeID string) (bool, error) {
	return func(ctx context.Context, treeID string) (bool, error) {
		n, err := st.Count(ctx, store.Filter{TreeID: treeID})
		return n > 0, err
	}
}
