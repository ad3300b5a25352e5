package scheduler

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/badgerstore"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// t0 is the test clock's start.
var t0 = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

// fakeRunner records fires; its runs end at once unless hold is set.
type fakeRunner struct {
	mu    sync.Mutex
	busy  bool
	hold  bool
	err   error    // what Fire answers, when set
	fires []string // task ids, in order
	at    []time.Time
	clock *clock
}

func (r *fakeRunner) Busy(context.Context, *task.Task) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.busy, nil
}

func (r *fakeRunner) Fire(_ context.Context, t *task.Task) (<-chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fires = append(r.fires, t.ID)
	r.at = append(r.at, r.clock.Now())
	if r.err != nil {
		return nil, r.err
	}
	done := make(chan struct{})
	if !r.hold {
		close(done)
	}
	return done, nil
}

func (r *fakeRunner) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.fires) }

// env is a scheduler on a store with a fake runner and a settable clock.
type env struct {
	t     *testing.T
	st    Store
	full  store.Store
	clock *clock
	run   *fakeRunner
	s     *Scheduler
}

// setup returns a scheduler on st (a new memstore when nil).
func setup(t *testing.T, st store.Store, mutate ...func(*Config)) *env {
	t.Helper()
	if st == nil {
		m := memstore.New()
		t.Cleanup(func() { _ = m.Close() })
		st = m
	}
	c := &clock{t: t0}
	r := &fakeRunner{clock: c}
	cfg := Config{Store: st.(Store), Runner: r, Now: c.Now}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st.(Store), full: st, clock: c, run: r, s: s}
}

// job stores a root with an enabled schedule whose next run is computed at the clock's
// time, and returns its id.
func (e *env) job(id, kind, expr string, mutate ...func(*task.Task)) string {
	e.t.Helper()
	j := &task.Task{ID: id, TaskTreeID: id, Name: id, Status: task.Pending, Priority: task.DefaultPriority,
		CreatedAt: t0, ScheduleType: kind, ScheduleExpression: expr, ScheduleEnabled: true}
	for _, m := range mutate {
		m(j)
	}
	next, err := schedule.NextRun(j, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	j.NextRunAt = next
	if err := e.full.Create(context.Background(), []*task.Task{j}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) poll() {
	e.t.Helper()
	if err := e.s.Poll(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) get(id string) *task.Task {
	e.t.Helper()
	got, err := e.full.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// TestOneFirePerOccurrence: two schedulers polling one store at once (two goroutines
// each) fire a due occurrence exactly once, on memstore and on badgerstore.
func TestOneFirePerOccurrence(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) store.Store{
		"memstore": func(t *testing.T) store.Store { return nil },
		"badgerstore": func(t *testing.T) store.Store {
			s, err := badgerstore.Open(badgerstore.Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := setup(t, open(t))
			b := setup(t, a.full)
			b.clock, b.s.cfg.Now = a.clock, a.clock.Now
			b.run.clock = a.clock
			a.job("job", "interval", "60")
			for occurrence := 1; occurrence <= 3; occurrence++ {
				a.clock.Add(time.Minute)
				var wg sync.WaitGroup
				for _, e := range []*env{a, b, a, b} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := e.s.Poll(context.Background()); err != nil {
							t.Error(err)
						}
					}()
				}
				wg.Wait()
				if n := a.run.count() + b.run.count(); n != occurrence {
					t.Fatalf("after occurrence %d: %d fires, want %d", occurrence, n, occurrence)
				}
			}
			if got := a.get("job"); got.RunCount != 3 || !got.NextRunAt.Equal(t0.Add(4*time.Minute)) {
				t.Fatalf("run_count %d, next_run_at %s; want 3 and %s", got.RunCount, got.NextRunAt, t0.Add(4*time.Minute))
			}
		})
	}
}

// TestMissedRuns: after a downtime, a missed occurrence is skipped (default) or run once
// (run_once); either way next_run_at is the next future occurrence.
func TestMissedRuns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		policy   string
		wantRuns int
	}{{"", 0}, {schedule.MissedSkip, 0}, {schedule.MissedRunOnce, 1}} {
		t.Run("policy "+tt.policy, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil)
			e.job("nightly", "daily", "09:00", func(j *task.Task) {
				if tt.policy != "" {
					j.Params = map[string]any{"schedule_missed": tt.policy}
				}
			})
			// Down from before the first occurrence (tomorrow 09:00) until three days later.
			e.clock.Set(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
			e.poll()
			e.poll()
			got := e.get("nightly")
			if e.run.count() != tt.wantRuns || got.RunCount != tt.wantRuns {
				t.Fatalf("%d fires, run_count %d; want %d", e.run.count(), got.RunCount, tt.wantRuns)
			}
			if want := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC); !got.NextRunAt.Equal(want) || !got.ScheduleEnabled {
				t.Fatalf("next_run_at %s (enabled %v), want %s", got.NextRunAt, got.ScheduleEnabled, want)
			}
			if tt.wantRuns == 1 && !got.LastRunAt.Equal(e.clock.Now()) {
				t.Fatalf("last_run_at %s, want the fire time %s", got.LastRunAt, e.clock.Now())
			}
			if tt.wantRuns == 0 && (!got.LastRunAt.IsZero() || e.s.Stats().Skipped != 1) {
				t.Fatalf("last_run_at %s, stats %+v; want none and one skip", got.LastRunAt, e.s.Stats())
			}
		})
	}
}

// TestOnTimeWithinMissedAfter: an occurrence found late, but within MissedAfter, runs.
func TestOnTimeWithinMissedAfter(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	e.job("j", "interval", "60")
	e.clock.Add(time.Minute + DefaultMissedAfter)
	e.poll()
	if e.run.count() != 1 {
		t.Fatalf("%d fires, want 1", e.run.count())
	}
}

// TestOverlap: an occurrence due while the tree runs is skipped (default: advanced,
// not run, counted) or waits (policy wait: left due, run once the tree is idle).
func TestOverlap(t *testing.T) {
	t.Parallel()
	t.Run("skip", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil)
		e.job("j", "interval", "60")
		e.run.busy = true
		e.clock.Add(time.Minute)
		e.poll()
		got := e.get("j")
		if e.run.count() != 0 || got.RunCount != 0 || !got.NextRunAt.Equal(t0.Add(2*time.Minute)) || e.s.Stats().Skipped != 1 {
			t.Fatalf("fires %d, run_count %d, next %s, stats %+v; want a counted skip to %s",
				e.run.count(), got.RunCount, got.NextRunAt, e.s.Stats(), t0.Add(2*time.Minute))
		}
	})
	t.Run("in_progress task", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil)
		e.job("j", "interval", "60", func(j *task.Task) { j.Status, j.StartedAt = task.InProgress, t0 })
		e.clock.Add(time.Minute)
		e.poll()
		if e.run.count() != 0 || e.get("j").RunCount != 0 {
			t.Fatalf("an in_progress task was fired")
		}
	})
	t.Run("wait", func(t *testing.T) {
		t.Parallel()
		e := setup(t, nil)
		e.job("j", "interval", "60", func(j *task.Task) { j.Params = map[string]any{"schedule_overlap": "wait"} })
		e.run.busy = true
		e.clock.Add(time.Minute)
		e.poll()
		if got := e.get("j"); e.run.count() != 0 || !got.NextRunAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("fires %d, next %s; want the occurrence left due", e.run.count(), got.NextRunAt)
		}
		e.run.busy = false
		e.clock.Add(time.Second)
		e.poll()
		if got := e.get("j"); e.run.count() != 1 || got.RunCount != 1 {
			t.Fatalf("fires %d, run_count %d after the run ended; want 1", e.run.count(), got.RunCount)
		}
	})
}

// TestOnceDisablesItself: a once schedule runs once, then is disabled.
func TestOnceDisablesItself(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	e.job("o", "once", t0.Add(time.Hour).Format(time.RFC3339))
	e.poll()
	if e.run.count() != 0 {
		t.Fatal("fired before its time")
	}
	e.clock.Add(time.Hour)
	e.poll()
	e.clock.Add(24 * time.Hour)
	e.poll()
	got := e.get("o")
	if e.run.count() != 1 || got.RunCount != 1 || got.ScheduleEnabled || !got.NextRunAt.IsZero() {
		t.Fatalf("fires %d, run_count %d, enabled %v, next %s; want one run, then disabled", e.run.count(), got.RunCount, got.ScheduleEnabled, got.NextRunAt)
	}
}

// TestMaxRuns: a schedule with max_runs runs that many times, then is disabled.
func TestMaxRuns(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	e.job("m", "interval", "10", func(j *task.Task) { j.MaxRuns = 3 })
	for range 6 {
		e.clock.Add(10 * time.Second)
		e.poll()
	}
	got := e.get("m")
	if e.run.count() != 3 || got.RunCount != 3 || got.ScheduleEnabled || !got.NextRunAt.IsZero() {
		t.Fatalf("fires %d, run_count %d, enabled %v; want 3 runs, then disabled", e.run.count(), got.RunCount, got.ScheduleEnabled)
	}
}

// TestMaxConcurrent: a due occurrence finding every slot taken waits (is not claimed).
func TestMaxConcurrent(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, func(c *Config) { c.MaxConcurrent = 1 })
	e.run.hold = true
	e.job("a", "interval", "60")
	e.job("b", "interval", "60")
	e.clock.Add(time.Minute)
	e.poll()
	if e.run.count() != 1 {
		t.Fatalf("%d fires, want 1", e.run.count())
	}
	waiting := "b"
	if e.run.fires[0] == "b" {
		waiting = "a"
	}
	if got := e.get(waiting); got.RunCount != 0 || !got.NextRunAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("%s: run_count %d, next %s; want left due", waiting, got.RunCount, got.NextRunAt)
	}
}

// TestDaylightSavingTransitions: a daily schedule fires once a day through the
// scheduler across both changes of America/New_York: 02:30 on the spring-forward day
// (a wall time that does not exist) at 03:30 EDT; 01:30 on the fall-back day (which
// happens twice) once, at its first occurrence.
func TestDaylightSavingTransitions(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, expr string
		start      time.Time
		want       []string
	}{
		{"spring forward", "02:30", time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC),
			[]string{"2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"}},
		{"fall back", "01:30", time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC),
			[]string{"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil)
			e.clock.Set(tt.start)
			e.job("d", "daily", tt.expr, func(j *task.Task) { j.ScheduleTimezone = "America/New_York" })
			// Poll every half hour for four days: each occurrence fires once, at its time.
			for range 4 * 48 {
				e.clock.Add(30 * time.Minute)
				e.poll()
			}
			var got []string
			for _, at := range e.run.at {
				got = append(got, at.UTC().Format(time.RFC3339))
			}
			if len(got) < 3 || got[0] != tt.want[0] || got[1] != tt.want[1] || got[2] != tt.want[2] || len(got) != 4 {
				t.Fatalf("fired at %v, want %v then one more day", got, tt.want)
			}
		})
	}
}

// TestRunStopsOnCancel: Run polls until its context ends, then returns the context's
// error; Wake never blocks.
func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, func(c *Config) { c.Poll = time.Hour })
	e.job("j", "interval", "60")
	e.clock.Add(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.s.Run(ctx) }()
	for range 3 {
		e.s.Wake()
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
}

// TestIntervalDoesNotDrift: a fire found late runs, and the next occurrence is an
// interval after the planned one, not after the fire.
func TestIntervalDoesNotDrift(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	e.job("j", "interval", "60")
	due := e.get("j").NextRunAt
	e.clock.Add(due.Sub(e.clock.Now()) + 700*time.Millisecond)
	e.poll()
	got := e.get("j")
	if e.run.count() != 1 || !got.NextRunAt.Equal(due.Add(time.Minute)) {
		t.Fatalf("fires %d, next_run_at %s; want one fire and the next at %s", e.run.count(), got.NextRunAt, due.Add(time.Minute))
	}
}

// TestMissedOnceRuns: a once schedule found late (the server was down) runs by default:
// skipping would lose its only run; a policy of skip is still honoured.
func TestMissedOnceRuns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		params map[string]any
		fires  int
	}{{nil, 1}, {map[string]any{"schedule_missed": "skip"}, 0}} {
		e := setup(t, nil)
		at := e.clock.Now().Add(time.Minute).UTC().Format(time.RFC3339)
		e.job("o", "once", at, func(j *task.Task) { j.Params = c.params })
		e.clock.Add(time.Hour)
		e.poll()
		if got := e.get("o"); e.run.count() != c.fires || got.ScheduleEnabled {
			t.Fatalf("params %v: %d fires, enabled %v; want %d and disabled", c.params, e.run.count(), got.ScheduleEnabled, c.fires)
		}
	}
}

// TestFrozenTreeDisablesItsSchedule: a tree that can never be re-run (links, archives)
// has its schedule disabled at its first occurrence, instead of claiming and losing
// every one.
func TestFrozenTreeDisablesItsSchedule(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	e.job("j", "interval", "60")
	e.run.err = fmt.Errorf("tree j: %w", ErrFrozen)
	e.clock.Add(time.Minute)
	e.poll()
	if got := e.get("j"); got.ScheduleEnabled || !got.NextRunAt.IsZero() {
		t.Fatalf("enabled %v, next_run_at %s; want the schedule disabled", got.ScheduleEnabled, got.NextRunAt)
	}
	e.clock.Add(time.Minute)
	e.poll()
	if n := e.run.count(); n != 1 {
		t.Fatalf("%d fires, want the one that found the tree frozen", n)
	}
}
