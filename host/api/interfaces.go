package api

import (
	"context"
	"io"
	"time"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/task"
)

// Engine is what the server needs from the execution engine (host/engine). Wrap an
// *engine.Engine with [WrapEngine] to get one.
type Engine interface {
	// Start runs (or re-runs) the stored tree containing taskID and returns at once; a
	// task that is not the root restricts the run to that task and what it needs. A tree
	// that is already running answers an error with code apferr.AlreadyExecuting.
	Start(ctx context.Context, taskID string, opts RunOptions) (Run, error)
	// Cancel cancels a task (the whole tree when it is the root) and returns the tasks
	// it moved to cancelled.
	Cancel(ctx context.Context, taskID, message string) ([]*task.Task, error)
	// Clone copies, links or archives a task (and its subtree) and returns the new tasks
	// (stored unless opts.Save is false), root first.
	Clone(ctx context.Context, taskID string, opts CloneOptions) ([]*task.Task, error)
	// TreeCreated tells the engine a submission was stored (it fires the tree hooks).
	TreeCreated(ctx context.Context, rootID string)
	// Subscribe returns the events of the run of rootID and a function that ends the
	// subscription and closes the channel.
	Subscribe(rootID string) (<-chan Event, func())
	// Running describes the runs in progress.
	Running() []RunInfo
}

// RunOptions select what a run (re-)executes (engine.RunOptions).
type RunOptions struct {
	// Full re-runs completed tasks too.
	Full bool
	// TaskID restricts the run to this task and what it needs.
	TaskID string
}

// Run is a run in progress.
type Run interface {
	// Done is closed when the run has ended.
	Done() <-chan struct{}
	// Result is the outcome, complete once Done is closed.
	Result() RunResult
}

// RunResult is the outcome of a run (engine.RunResult).
type RunResult struct {
	RootID      string
	Status      task.Status
	Root        *task.Task
	Counts      map[task.Status]int
	Blocked     int
	Duration    time.Duration
	Interrupted bool
	Err         error
}

// RunInfo describes a run in progress (engine.RunInfo).
type RunInfo struct {
	RootID    string
	TreeID    string
	TaskID    string
	StartedAt time.Time
	Tasks     int64
	Running   int64
	Finished  int64
}

// Event types of Event.Type (the engine's).
const (
	EventRunStart     = "run_start"
	EventTaskStatus   = "task_status"
	EventTaskProgress = "task_progress"
	EventRunEnd       = "run_end"
)

// Event is one thing that happened in a run (engine.Event).
type Event struct {
	Type     string
	RootID   string
	TaskID   string
	Status   task.Status
	Progress float64
	Error    string
	Time     time.Time
	// Task is a snapshot of the task after the change, or nil. Shared: do not modify.
	Task *task.Task
	// Result is set on run_end.
	Result *RunResult
}

// CloneOptions are the parameters of tasks.clone.
type CloneOptions struct {
	// OriginType is copy (default), link, archive or mixed.
	OriginType string
	// Recursive clones the whole subtree (default true at the API).
	Recursive bool
	// LinkTaskIDs are the tasks to link in mixed mode.
	LinkTaskIDs []string
	// ResetFields are field overrides applied to the copies.
	ResetFields map[string]any
	// Save stores the clones; false returns an unsaved preview.
	Save bool
	// UserID owns the clones ("" keeps the originals' owner).
	UserID string
}

// Plugins is the plugin registry as the HTTP plugin routes use it. It is optional.
type Plugins interface {
	// Add validates and hot-loads a WebAssembly module under a name (the executor id
	// when the module has no metadata) and describes it.
	Add(ctx context.Context, name string, wasm []byte) (*executor.Info, error)
	// Remove unloads the plugin registered under an executor id. Running tasks keep
	// their pinned version.
	Remove(ctx context.Context, id string) error
	// List describes the loaded plugins.
	List() []*executor.Info
}

// PrepareFunc validates a submission (the raw JSON of a task array or one task) and
// returns its tasks ready to store. userID, when not empty, is stamped on every task and
// a task naming another user is refused (code Unauthorized). See [SubmitPrepare].
type PrepareFunc func(ctx context.Context, data []byte, userID string) ([]*task.Task, error)

// MetricsWriter adds lines in the Prometheus text format to GET /metrics. The plugin
// registry or the engine may implement it; the server calls it for Config.Metrics and
// for Config.Plugins when it implements it.
type MetricsWriter interface {
	WriteMetrics(w io.Writer) error
}
