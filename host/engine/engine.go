package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/cluster"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("engine: closed")

// ErrStarted is returned (wrapped) by Start with RunOptions.OnlyUnstarted when a run of
// the tree has started before.
var ErrStarted = errors.New("a run of this tree has started before")

// Engine runs task trees. It is safe for concurrent use. One Engine must own a store:
// two engines on one store would both believe they own the trees they run.
type Engine struct {
	cfg      Config
	events   *broker
	logs     *taskLogs      // tasks' captured log lines (logs.go)
	progress *progressNotes // running tasks' progress to store (progress.go)
	sem      chan struct{}  // execution slots, engine-wide
	workers  *workers       // the goroutines tasks execute on (workers.go)
	calls    callObservers  // told of every executor call (calls.go)

	// killCtx is the parent of every executor and hook context; Close cancels it when
	// its deadline passes.
	killCtx context.Context
	kill    context.CancelFunc
	closing chan struct{}

	mu     sync.Mutex
	closed bool
	runs   map[string]*Run // by tree id

	// m is the engine's membership of a cluster (Config.Cluster), or nil.
	m *member
}

// New returns an Engine. It does not touch the store: call Recover at start-up to resume
// the runs a crash or a Close interrupted. With Config.Cluster it joins the cluster's
// work at once: it claims queued tasks and heartbeats until Close.
func New(cfg Config) (*Engine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	killCtx, kill := context.WithCancel(context.Background())
	e := &Engine{
		cfg:     cfg,
		events:  newBroker(),
		sem:     make(chan struct{}, cfg.Concurrency),
		killCtx: killCtx,
		kill:    kill,
		closing: make(chan struct{}),
		runs:    map[string]*Run{},
	}
	e.workers = newWorkers(killCtx)
	e.logs = newTaskLogs(cfg.Store, cfg.TaskLogs, cfg.Now, cfg.Logger, e.publishLogs)
	e.progress = newProgressNotes(cfg.ProgressInterval, e.storeProgress)
	if cfg.Cluster != nil {
		e.m = newMember(cfg.Cluster)
		e.m.relay = newRelay(cfg.Cluster, cfg.Logger, e.events.deliver)
		e.events.out = e.m.relay
		e.startMember()
	}
	return e, nil
}

// RunOptions select what a run (re-)executes.
type RunOptions struct {
	// Full re-runs completed tasks too (docs/semantics.md rule 15); by default they keep their results.
	Full bool
	// TaskID restricts the run to the minimal part of the tree needed for this task: the
	// task, its transitive dependencies and their ancestors, closed under the same rule
	// (docs/semantics.md rule 15). The task itself is re-run even when completed.
	TaskID string
	// OnlyUnstarted starts the run only if no run of the tree ever started: no run
	// marker, every task pending, never attempted and without an error (a blocked
	// marker is one). Otherwise Start fails with ErrStarted and changes nothing. The
	// check is made under the lock (in a cluster, the tree's lease) that starts runs, so
	// of two such Starts of a new tree exactly one runs it, and a run that already
	// ended is never followed by a second one. A repeated keyed submission uses it
	// (docs/api.md "Idempotency keys").
	OnlyUnstarted bool
	// Created, when not nil, is the whole tree as the caller just stored it (Store.Create,
	// store.CreateBatch or store.Keys.CreateKeyed returned nil for exactly these tasks,
	// and nothing changed them since): the run builds its graph from them instead of
	// reading the tree back, and reads only the root, whose snapshot it hands out. The
	// run reads each task of it at most twice (a batch built on demand, submit.Tree, is
	// never held whole), never modifies them and drops the batch once loaded. Ignored in cluster mode, when hooks
	// are configured (a tree-created hook may have changed the tree) and when a task is
	// not of the run's tree, and with OnlyUnstarted when its size is not the stored
	// tree's (that check counts the tree). Pitfall: it is otherwise trusted to be whole: a
	// task left out is not run, and the run can end completed without it.
	Created store.Batch

	// resume continues an interrupted run (crash recovery): nothing but orphaned
	// in_progress tasks is reset.
	resume bool
}

// RunResult is the outcome of a run.
type RunResult struct {
	RootID string      `json:"root_task_id"`
	Status task.Status `json:"status"` // the root's own status
	// Root is a snapshot of the root task at the end of the run.
	Root *task.Task `json:"-"`
	// Counts counts the tree's tasks by status at the end of the run.
	Counts map[task.Status]int `json:"counts"`
	// Blocked counts pending tasks carrying the blocked marker.
	Blocked int `json:"blocked"`
	// Executed counts the tasks the run executed to an end (in cluster mode, those that
	// ended on any node during it): 0 when it found nothing to do, as a re-run of a
	// completed tree without Full.
	Executed int64         `json:"executed"`
	Duration time.Duration `json:"duration"`
	// Interrupted is true when Close stopped the run before it ended.
	Interrupted bool `json:"interrupted,omitempty"`
	// Err is set when the run could not proceed (the store failed).
	Err error `json:"-"`
}

// RunInfo describes a run in progress.
type RunInfo struct {
	RootID    string    `json:"root_task_id"`
	TreeID    string    `json:"task_tree_id"`
	TaskID    string    `json:"task_id,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Tasks     int64     `json:"tasks"`    // tasks in the run's scope
	Running   int64     `json:"running"`  // executing now
	Finished  int64     `json:"finished"` // reached a terminal status during the run
	// NodeID is the node coordinating the run (cluster mode).
	NodeID string `json:"node_id,omitempty"`
}

// Run is a run of one tree. Its methods are safe for concurrent use.
type Run struct {
	e       *Engine
	rootID  string
	treeID  string
	opts    RunOptions
	created store.Batch // RunOptions.Created, until the run's goroutine loads them
	started time.Time

	inbox chan message
	done  chan struct{}

	// Cluster mode: the tree's lease; wake is poked when its settled feed grows; lost is
	// set when a heartbeat found the lease taken over.
	lease *cluster.Lease
	wake  chan struct{}
	lost  atomic.Bool

	result RunResult // written before done is closed

	tasks, running, finished atomic.Int64
}

// RootID returns the id of the tree's root.
func (r *Run) RootID() string { return r.rootID }

// Done is closed when the run has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// Result returns the outcome of the run; it is complete once Done is closed.
func (r *Run) Result() RunResult {
	select {
	case <-r.done:
		return r.result
	default:
		return RunResult{RootID: r.rootID, Status: task.InProgress}
	}
}

// Start runs (or re-runs, docs/semantics.md rule 15) the stored tree of rootID and returns at once.
// rootID may name any task of a tree; a task that is not the root implies
// RunOptions.TaskID. A tree that is already running answers an *apferr.Error with code
// AlreadyExecuting and data {"status": "already_running", "root_task_id": ...}. The run
// is not bound to ctx: it goes on until it ends, is cancelled (Cancel of the root) or the
// engine closes.
func (e *Engine) Start(ctx context.Context, rootID string, opts RunOptions) (*Run, error) {
	t, err := e.cfg.Store.Get(ctx, rootID)
	if err != nil {
		return nil, fmt.Errorf("start run of %s: %w", rootID, err)
	}
	if !t.IsRoot() && opts.TaskID == "" {
		opts.TaskID = t.ID
	}
	if opts.TaskID != "" && opts.TaskID != t.ID {
		target, err := e.cfg.Store.Get(ctx, opts.TaskID)
		if err != nil {
			return nil, fmt.Errorf("start run of %s: task_id: %w", rootID, err)
		}
		if target.TreeID() != t.TreeID() {
			return nil, apferr.Errorf(apferr.InvalidParams, "task %s is not in the tree of %s", opts.TaskID, rootID).
				WithData(map[string]any{"field": "task_id", "task_id": opts.TaskID, "reason": "not in this tree"})
		}
	}
	treeID := t.TreeID()
	root, err := e.rootOf(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("start run of %s: %w", rootID, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if running, ok := e.runs[treeID]; ok {
		return nil, alreadyRunning(running.rootID)
	}
	lease, err := e.acquire(ctx, treeID, root)
	if err != nil {
		return nil, err
	}
	if opts.OnlyUnstarted {
		n, err := e.checkUnstarted(ctx, treeID, root)
		if err != nil {
			e.releaseLease(treeID, lease)
			return nil, err
		}
		if opts.Created != nil && opts.Created.Len() != n {
			opts.Created = nil // the tree changed since its caller stored it: read it
		}
	}
	created := opts.Created
	opts.Created = nil
	r := &Run{
		e: e, rootID: root, treeID: treeID, opts: opts, created: created, started: e.cfg.Now(),
		inbox: make(chan message, 256), done: make(chan struct{}),
		lease: lease, wake: make(chan struct{}, 1),
	}
	e.runs[treeID] = r
	go r.loop()
	return r, nil
}

// checkUnstarted fails with ErrStarted when a run of the tree has started before (see
// RunOptions.OnlyUnstarted), else returns the number of tasks the tree holds. It reads
// the tree one task at a time from a store that scans trees (store.FirstTask), up to the
// first started task.
func (e *Engine) checkUnstarted(ctx context.Context, treeID, rootID string) (int, error) {
	n := 0
	started, err := store.FirstTask(ctx, e.cfg.Store, treeID, func(t *task.Task) bool {
		n++
		return startedBefore(t)
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("start run of %s: %w", rootID, err)
	case started != nil:
		return 0, fmt.Errorf("start run of %s: %w (task %s is %s)", rootID, ErrStarted, started.ID, started.Status)
	}
	return n, nil
}

// startedBefore reports whether a run has started t: a task no run has touched is pending,
// never attempted, without an error, a start time or a run's marker.
func startedBefore(t *task.Task) bool {
	return t.Run != nil || t.Status != task.Pending || t.Attempts > 0 || t.Error != "" || !t.StartedAt.IsZero()
}

func alreadyRunning(rootID string) error {
	return apferr.Errorf(apferr.AlreadyExecuting, "Task %s is already running", rootID).
		WithData(map[string]any{"status": "already_running", "root_task_id": rootID,
			"message": fmt.Sprintf("Task tree %s is already being executed", rootID)})
}

// Execute starts a run and waits for it to end. When ctx is done first it returns
// ctx.Err(); the run goes on.
func (e *Engine) Execute(ctx context.Context, rootID string, opts RunOptions) (RunResult, error) {
	r, err := e.Start(ctx, rootID, opts)
	if err != nil {
		return RunResult{}, err
	}
	select {
	case <-r.Done():
		res := r.Result()
		return res, res.Err
	case <-ctx.Done():
		return RunResult{}, ctx.Err()
	}
}

// Running describes the runs in progress, by root id: in cluster mode the runs of every
// node (Running counts their tasks executing on any node), else this engine's. If the
// cluster's database cannot be read, it logs why and describes this node's runs.
func (e *Engine) Running() []RunInfo {
	if e.m != nil {
		ctx, cancel := context.WithTimeout(context.Background(), e.m.clusterTimeout())
		defer cancel()
		out, err := e.runningCluster(ctx)
		if err == nil {
			return out
		}
		e.cfg.Logger.Warn("listing the cluster's runs failed; showing this node's", "error", err)
	}
	return e.localRunning()
}

// RunActive reports whether a run of the tree rooted at rootID is in progress: on this
// engine, or in cluster mode on any node (the root carries the run marker until the run
// ends, through takeovers; a run just started holds the tree's lease). An error means
// the store could not be read: the answer is unknown, not no.
func (e *Engine) RunActive(ctx context.Context, rootID string) (bool, error) {
	e.mu.Lock()
	for _, r := range e.runs {
		if r.rootID == rootID {
			e.mu.Unlock()
			return true, nil
		}
	}
	e.mu.Unlock()
	if e.m == nil {
		return false, nil
	}
	root, err := e.cfg.Store.Get(ctx, rootID)
	if apferr.CodeOf(err) == apferr.TaskNotFound {
		return false, nil // deleted: no run
	}
	if err != nil {
		return false, fmt.Errorf("is the run of %s in progress: %w", rootID, err)
	}
	if root.Run != nil {
		return true, nil
	}
	// A run that has just started holds its lease before its marker is written (the
	// marker joins its first round).
	leases, err := e.m.d.Runs(ctx)
	if err != nil {
		return false, fmt.Errorf("is the run of %s in progress: %w", rootID, err)
	}
	for _, l := range leases {
		if l.RootID == rootID {
			return true, nil
		}
	}
	return false, nil
}

func (e *Engine) localRunning() []RunInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]RunInfo, 0, len(e.runs))
	for _, r := range e.runs {
		ri := RunInfo{
			RootID: r.rootID, TreeID: r.treeID, TaskID: r.opts.TaskID, StartedAt: r.started,
			Tasks: r.tasks.Load(), Running: r.running.Load(), Finished: r.finished.Load(),
		}
		if e.m != nil {
			ri.NodeID = e.m.d.NodeID()
		}
		out = append(out, ri)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RootID < out[j].RootID })
	return out
}

// run returns the active run of a tree, or nil.
func (e *Engine) run(treeID string) *Run {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runs[treeID]
}

// Close stops the engine gracefully: no task starts any more; running tasks may finish
// until ctx is done; then their executors are cancelled and the tasks go back to pending
// (durably, not cancelled). Close returns when every run has ended. It does not close the
// store.
//
// A run stopped with work left (tasks that were running and re-queued, or that had not
// started yet) keeps its durable run marker (task.Task.Run on the root), so that Recover
// on the next start resumes it where it stopped; its RunResult says Interrupted. That is
// a normal shutdown: Close returns nil for it, whether the running tasks finished during
// the drain or had to be re-queued when ctx was done, and logs how many runs it
// interrupted. Close returns an error only when a run could not record its state because
// the store failed (the error names the run); Recover still resets what such a run left
// in_progress.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.closing)
	}
	runs := make([]*Run, 0, len(e.runs))
	for _, r := range e.runs {
		runs = append(runs, r)
	}
	e.mu.Unlock()

	drained := true
	for _, r := range runs {
		select {
		case <-r.done:
			continue
		case <-ctx.Done():
			drained = false
		}
		break
	}
	if drained && e.m != nil {
		drained = e.drainClaims(ctx)
	}
	e.kill() // interrupt what is still running
	var errs []error
	interrupted := 0
	for _, r := range runs {
		<-r.done
		if r.result.Err != nil {
			errs = append(errs, fmt.Errorf("engine close: run of %s: %w", r.rootID, r.result.Err))
		}
		if r.result.Interrupted {
			interrupted++
		}
	}
	if interrupted > 0 {
		e.cfg.Logger.Info("engine closed: runs interrupted, their pending tasks resume with Recover",
			"runs", interrupted, "deadline_passed", !drained)
	}
	e.progress.close() // the tasks stopped: their progress starts over
	e.logs.close(ctx)  // the lines still waiting are stored
	if e.m != nil {
		if err := e.leaveCluster(); err != nil {
			errs = append(errs, fmt.Errorf("engine close: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) isClosing() bool {
	select {
	case <-e.closing:
		return true
	default:
		return false
	}
}

// rootOf walks up the parent chain of t to its root.
func (e *Engine) rootOf(ctx context.Context, t *task.Task) (string, error) {
	seen := map[string]bool{}
	for !t.IsRoot() {
		if seen[t.ID] {
			return "", apferr.Errorf(apferr.TreeValidation, "task %s: parent cycle", t.ID)
		}
		seen[t.ID] = true
		p, err := e.cfg.Store.Get(ctx, t.ParentID)
		if err != nil {
			return "", fmt.Errorf("parent of task %s: %w", t.ID, err)
		}
		t = p
	}
	return t.ID, nil
}
