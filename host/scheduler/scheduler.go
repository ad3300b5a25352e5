package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
	"github.com/hashicorp/go-hclog"
)

// Scheduler polls the store for due schedules and runs them (see the package doc). It is
// safe for concurrent use; several Schedulers may share one store.
type Scheduler struct {
	cfg  Config
	wake chan struct{}

	mu     sync.Mutex
	active map[string]<-chan struct{} // runs this scheduler started, by task id

	fired, skipped, lost atomic.Int64
}

// Stats counts what a Scheduler did since it was created.
type Stats struct {
	Fired   int64 `json:"fired"`   // occurrences claimed and started
	Skipped int64 `json:"skipped"` // occurrences advanced without running (missed, overlap)
	Lost    int64 `json:"lost"`    // occurrences claimed whose run could not start
	Active  int   `json:"active"`  // runs it started that are in progress
}

// New returns a Scheduler; Run starts its loop.
func New(cfg Config) (*Scheduler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Scheduler{cfg: cfg, wake: make(chan struct{}, 1), active: map[string]<-chan struct{}{}}, nil
}

// Run polls every Config.Poll (or sooner after Wake) until ctx is done, then returns
// ctx's error. The runs it started go on: they belong to the engine.
func (s *Scheduler) Run(ctx context.Context) error {
	s.cfg.Logger.Info("scheduler started", "poll", s.cfg.Poll, "max_concurrent", s.cfg.MaxConcurrent, "missed_after", s.cfg.MissedAfter)
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	for {
		if err := s.Poll(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("scheduler poll failed; retrying at the next poll", "error", err)
		}
		select {
		case <-ctx.Done():
			s.cfg.Logger.Info("scheduler stopped")
			return ctx.Err()
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// Wake asks for a poll now (a schedule changed). It never blocks; a poll happens anyway
// every Config.Poll.
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stats returns the scheduler's counters.
func (s *Scheduler) Stats() Stats {
	return Stats{Fired: s.fired.Load(), Skipped: s.skipped.Load(), Lost: s.lost.Load(), Active: s.running()}
}

// Poll runs one pass: it reads the schedules due now and handles each, oldest first. It
// returns the error of the due query; each occurrence's own failures are logged.
func (s *Scheduler) Poll(ctx context.Context) error {
	due, err := s.cfg.Store.Due(ctx, store.DueQuery{Before: s.cfg.Now(), Limit: s.cfg.Batch})
	if err != nil {
		return err
	}
	for _, t := range due {
		if ctx.Err() != nil {
			return nil
		}
		s.fire(ctx, t)
	}
	return nil
}

// fire handles one due occurrence of t.
func (s *Scheduler) fire(ctx context.Context, t *task.Task) {
	log := s.cfg.Logger.With("task_id", t.ID, "occurrence", logTime(t.NextRunAt))
	busy, err := s.cfg.Runner.Busy(ctx, t)
	if err != nil {
		if ctx.Err() != nil {
			return // stopping
		}
		log.Warn("cannot tell whether the tree is running; the occurrence waits for the next poll", "error", err)
		return
	}
	if !busy && s.running() >= s.cfg.MaxConcurrent {
		log.Debug("all scheduler slots are taken; the occurrence waits for the next poll", "max_concurrent", s.cfg.MaxConcurrent)
		return
	}
	out, err := Claim(ctx, s.cfg.Store, t.ID, t.NextRunAt, s.cfg.Now(), s.cfg.MissedAfter, busy)
	switch {
	case errors.Is(err, ErrTaken):
		log.Debug("occurrence claimed elsewhere or rescheduled")
		return
	case errors.Is(err, ErrWait):
		log.Debug("tree still running; the occurrence waits (overlap policy wait)")
		return
	case err != nil && ctx.Err() != nil:
		return // stopping: the claim was not made (a made claim returns no error)
	case err != nil:
		log.Error("claiming the occurrence failed; it stays due", "error", err)
		return
	}
	next := logTime(out.Task.NextRunAt)
	switch out.Reason {
	case ReasonInvalid:
		s.skipped.Add(1)
		log.Error("the stored schedule does not parse: disabled", "error", out.Err)
		return
	case ReasonMissed, ReasonOverlap:
		s.skipped.Add(1)
		log.Warn("occurrence skipped", "reason", out.Reason, "next_run_at", next, "schedule_enabled", out.Task.ScheduleEnabled)
		return
	}
	done, err := s.cfg.Runner.Fire(context.WithoutCancel(ctx), out.Task)
	if err != nil {
		s.lost.Add(1)
		if apferr.CodeOf(err) == apferr.AlreadyExecuting {
			log.Warn("occurrence claimed but a run of the tree started meanwhile: not run (counted in run_count)", "next_run_at", next)
			return
		}
		if errors.Is(err, ErrFrozen) {
			s.disable(ctx, t.ID, log, err)
			return
		}
		log.Error("occurrence claimed but its run could not start: this occurrence is lost", "error", err, "next_run_at", next)
		return
	}
	s.fired.Add(1)
	s.track(t.ID, done)
	log.Info("scheduled run started", "reason", out.Reason, "run_count", out.Task.RunCount,
		"next_run_at", next, "schedule_enabled", out.Task.ScheduleEnabled)
}

// disable turns off the schedule of a tree that can never run (why), so that it does not
// claim and lose every occurrence.
func (s *Scheduler) disable(ctx context.Context, id string, log hclog.Logger, why error) {
	_, err := s.cfg.Store.Update(ctx, id, func(t *task.Task) error {
		t.ScheduleEnabled, t.NextRunAt = false, time.Time{}
		return nil
	})
	if err != nil {
		log.Error("the tree can never run and disabling its schedule failed", "reason", why, "error", err)
		return
	}
	log.Error("schedule disabled: the tree can never run", "reason", why)
}

// track remembers a run this scheduler started, for MaxConcurrent.
func (s *Scheduler) track(id string, done <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active[id] = done
}

// running returns how many runs this scheduler started are in progress, forgetting the
// ended ones.
func (s *Scheduler) running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, done := range s.active {
		select {
		case <-done:
			delete(s.active, id)
		default:
		}
	}
	return len(s.active)
}

// logTime is a time as the logs show it: RFC 3339 in UTC, "none" for the zero time.
func logTime(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
