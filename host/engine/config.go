package engine

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/retry"
	"github.com/apflow-wasm/apflow/host/schema"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// DefaultConcurrency is the number of tasks that execute at once when Config.Concurrency
// is 0. Each round of a run commits the outcomes of the tasks that finished and the
// starts of the tasks that replace them in one durable write, so with fast executors the
// throughput is about Concurrency tasks per fsync: on the 2-core benchmark machine
// BenchmarkWide10k gave ~1,700 tasks/s at 16, ~4,900 at 64 and ~11,000 at 256 (under
// load). 64 balances that against the number of sandboxes alive at once; raise it for
// trees of many tiny tasks.
const DefaultConcurrency = 64

// Hooks are the task and tree hooks the engine calls (docs/semantics.md rule 19). Implementations
// must be safe for concurrent use. Hook failures are reported as errors and recorded on
// the task (Task.HookErrors); they never change a task's status.
//
// The engine records the errors Pre and Post return in the task's hook_errors and does
// not log them: the implementation logs what its operator needs (hooks.Runner logs each
// failure, and a hook that is not loaded once, not once a task).
type Hooks interface {
	// Pre runs after dependency injection, before the executor. It returns the inputs
	// the executor gets (nil: unchanged) and the errors of failing hooks.
	Pre(ctx context.Context, t *task.Task, inputs map[string]any) (map[string]any, []error)
	// Post runs after a task completed (never after failed or cancelled), before its
	// dependents are released.
	Post(ctx context.Context, t *task.Task, inputs map[string]any, result any) []error
	// TreeEvent reports tree lifecycle events: kind is "created", "started", "completed"
	// or "failed"; status and message describe the outcome of completed/failed.
	TreeEvent(ctx context.Context, kind string, root *task.Task, tree *task.TreeNode, status, message string)
}

// Tree event kinds passed to Hooks.TreeEvent.
const (
	TreeCreated   = "created"
	TreeStarted   = "started"
	TreeCompleted = "completed"
	TreeFailed    = "failed"
)

// Config configures an Engine.
type Config struct {
	// Store persists tasks. Required.
	Store store.Store
	// Catalog resolves executor ids. Required.
	Catalog executor.Catalog
	// Hooks may be nil.
	Hooks Hooks
	// Concurrency bounds the tasks executing at once, engine-wide; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Logger receives engine logs; nil discards them.
	Logger hclog.Logger
	// Limits are the operator's default sandbox limits; a task's own limits override
	// them field by field.
	Limits task.Limits
	// Retry is the operator's default retry policy; an executor's (its metadata) and a
	// task's own (params.retry) override it field by field (docs/retries.md). The zero
	// value allows one attempt.
	Retry retry.Spec
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ProgressInterval is the least time between two progress reports of one task that
	// are kept (published and stored; closer ones are ignored), and how long a kept one
	// may wait before it is stored, together with every other task's (progress.go);
	// 0 means 100ms.
	ProgressInterval time.Duration
	// TaskSchemas compiles tasks' own schemas.input_schema, each distinct document once
	// while cached; nil means schema.NewTaskCache(0). It may be shared with submission
	// (submit.Options.TaskSchemas) so a schema compiles once per process.
	TaskSchemas *schema.Cache
	// Cluster, when set, makes the engine a node of a cluster sharing Store's database
	// (host/cluster; docs/cluster.md): runs are coordinated under tree leases, ready
	// tasks are queued for every node to claim, and Concurrency bounds what this node
	// executes. Store must be the store of the same database.
	Cluster cluster.Driver
	// ClusterClient makes a cluster engine a client, not a worker: it coordinates the
	// runs it starts and changes trees under their leases like any node, but claims no
	// task and takes over no run (short-lived commands). Ignored without Cluster.
	ClusterClient bool
	// TaskLogs bounds the plugin and hook log lines kept with each task when Store
	// implements store.TaskLogs (docs/decisions.md §18); zero fields mean
	// DefaultTaskLogLines and DefaultTaskLogBytes.
	TaskLogs store.LogBounds
}

func (c *Config) validate() error {
	if c.Store == nil {
		return errors.New("engine: Config.Store is required")
	}
	if c.Catalog == nil {
		return errors.New("engine: Config.Catalog is required")
	}
	if c.Concurrency < 0 {
		return errors.New("engine: Config.Concurrency must not be negative")
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 100 * time.Millisecond
	}
	if c.TaskSchemas == nil {
		c.TaskSchemas = schema.NewTaskCache(0)
	}
	return nil
}

// effectiveLimits merges a task's limit overrides over the operator defaults.
func effectiveLimits(def, own task.Limits) task.Limits {
	if own.TimeoutMS != 0 {
		def.TimeoutMS = own.TimeoutMS
	}
	if own.MemoryPages != 0 {
		def.MemoryPages = own.MemoryPages
	}
	if own.MaxResultBytes != 0 {
		def.MaxResultBytes = own.MaxResultBytes
	}
	return def
}
