package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Defaults of Config.
const (
	DefaultPoll          = time.Second
	DefaultMaxConcurrent = 16
	DefaultMissedAfter   = time.Minute
	DefaultBatch         = 100
)

// Store is what the scheduler needs of the task store: the due query and the write
// that claims an occurrence.
type Store interface {
	store.Schedules
	Update(ctx context.Context, id string, fn func(*task.Task) error) (*task.Task, error)
}

// Runner starts the runs of claimed occurrences (EngineRunner in production).
type Runner interface {
	// Busy reports whether a run of the tree of t is in progress (on any node of a
	// cluster). An error means the answer is unknown: the occurrence waits for the
	// next poll.
	Busy(ctx context.Context, t *task.Task) (bool, error)
	// Fire starts a full re-run of the tree of t (of t's part when t is not a root)
	// and returns a channel closed when the run ends. A tree that can never be re-run
	// in full (it holds links or archived tasks) is refused with an error matching
	// ErrFrozen.
	Fire(ctx context.Context, t *task.Task) (<-chan struct{}, error)
}

// ErrFrozen is matched (errors.Is) by Runner.Fire's refusal of a tree holding links or
// archived tasks: the scheduler disables such a schedule.
var ErrFrozen = errors.New("the tree holds links or archived tasks, which are never re-run")

// Config configures a Scheduler.
type Config struct {
	Store  Store  // required
	Runner Runner // required
	// Logger receives the scheduler's logs; nil discards them.
	Logger hclog.Logger
	// Poll is the time between two polls of the store; 0 means DefaultPoll.
	Poll time.Duration
	// MaxConcurrent bounds the runs this scheduler started that may be in progress at
	// once; a due occurrence finding no free slot waits for the next poll (and becomes
	// missed once it is MissedAfter late). 0 means DefaultMaxConcurrent.
	MaxConcurrent int
	// MissedAfter is how late an occurrence may be found and still run as planned;
	// later, it is missed and the task's missed policy applies. 0 means
	// DefaultMissedAfter.
	MissedAfter time.Duration
	// Batch is the most due tasks read per poll; 0 means DefaultBatch.
	Batch int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	if c.Store == nil || c.Runner == nil {
		return c, errors.New("scheduler: Store and Runner are required")
	}
	if c.Poll < 0 || c.MaxConcurrent < 0 || c.MissedAfter < 0 || c.Batch < 0 {
		return c, errors.New("scheduler: Poll, MaxConcurrent, MissedAfter and Batch must not be negative")
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Poll == 0 {
		c.Poll = DefaultPoll
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.MissedAfter == 0 {
		c.MissedAfter = DefaultMissedAfter
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
