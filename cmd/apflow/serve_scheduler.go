package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/apflow-wasm/apflow/host/scheduler"
)

// schedulerFlags are the flags of apflow serve's scheduler (docs/configuration.md).
type schedulerFlags struct {
	on            bool
	poll          time.Duration
	maxConcurrent int
	missedAfter   time.Duration
}

func (f *schedulerFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.on, "scheduler", true, "run scheduled tasks (schedule_enabled) when their next_run_at comes; false leaves them to an external scheduler")
	cmd.Flags().DurationVar(&f.poll, "scheduler-poll", scheduler.DefaultPoll, "how often the scheduler looks for due schedules")
	cmd.Flags().IntVar(&f.maxConcurrent, "scheduler-max-concurrent", scheduler.DefaultMaxConcurrent, "the most scheduled runs this node's scheduler has in progress at once; a due one waits for a free slot")
	cmd.Flags().DurationVar(&f.missedAfter, "scheduler-missed-after", scheduler.DefaultMissedAfter, "how late an occurrence may be found and still run as planned; later it is missed and the task's params.schedule_missed decides (skip or run_once)")
}

// build returns the scheduler of h, or nil when it is disabled; run starts its loop.
func (f *schedulerFlags) build(h *host) (*scheduler.Scheduler, error) {
	if !f.on {
		return nil, nil
	}
	if f.poll <= 0 || f.maxConcurrent <= 0 || f.missedAfter <= 0 {
		return nil, &exitError{code: exitInvalid, msg: fmt.Sprintf("serve: --scheduler-poll, --scheduler-max-concurrent and --scheduler-missed-after must be positive (got %s, %d, %s)", f.poll, f.maxConcurrent, f.missedAfter)}
	}
	st, ok := h.store.(scheduler.Store)
	if !ok {
		return nil, fmt.Errorf("serve: the task store %T cannot find due schedules; start with --scheduler=false", h.store)
	}
	return scheduler.New(scheduler.Config{
		Store: st, Runner: scheduler.EngineRunner{Engine: h.engine, Store: h.store},
		Logger: h.log.Named("scheduler"), Poll: f.poll, MaxConcurrent: f.maxConcurrent, MissedAfter: f.missedAfter,
	})
}

// runScheduler starts the loop of s (nil: disabled) and returns the function that stops
// it and waits for the loop to return.
func runScheduler(s *scheduler.Scheduler) (stop func()) {
	if s == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Run(ctx)
	}()
	return func() { cancel(); <-done }
}
