package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// progressWriteTimeout bounds one progress write: a store that hangs loses the progress
// (with a warning) instead of holding up Close.
const progressWriteTimeout = 10 * time.Second

// progressNotes keep running tasks' latest reported progress until it is stored, off the
// executor's path: an executor's progress call returns at once (its task_progress event
// is published then), and every interval the progress noted since is written, one write
// per task, the writes of all tasks at once (so the store commits them together). A task
// that ends before its note is written writes none: completing sets its progress to 1,
// failing to 0, and a cancelled task keeps the last progress stored. So progress costs
// a task no durable write on its critical path, and a crash loses at most the last
// interval's progress of tasks that start over anyway.
type progressNotes struct {
	interval time.Duration
	write    func(id string, n progressNote)

	mu     sync.Mutex
	notes  map[string]progressNote // by task id
	armed  bool                    // a flush is scheduled or writing
	closed bool
	writes sync.WaitGroup // flushes' writes in progress
}

// progressNote is a progress p reported at time at by attempt attempt of a task (its
// Attempts once started): a write lands on that attempt only, and never over a later
// progress.
type progressNote struct {
	p       float64
	at      time.Time
	attempt int
}

func newProgressNotes(interval time.Duration, write func(id string, n progressNote)) *progressNotes {
	return &progressNotes{interval: interval, write: write, notes: map[string]progressNote{}}
}

// note keeps n as task id's progress to store, replacing a note not yet written.
func (n *progressNotes) note(id string, x progressNote) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.notes[id] = x
	if !n.armed {
		n.armed = true
		time.AfterFunc(n.interval, n.flush)
	}
}

// drop forgets task id's note: the task ended.
func (n *progressNotes) drop(id string) {
	n.mu.Lock()
	delete(n.notes, id)
	n.mu.Unlock()
}

// flush writes every note taken at once and, when new notes came meanwhile, schedules
// the next flush: one flush writes at a time, so a task's writes never overtake each
// other.
func (n *progressNotes) flush() {
	n.mu.Lock()
	notes := n.notes
	n.notes = map[string]progressNote{}
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.writes.Add(len(notes))
	n.mu.Unlock()
	for id, x := range notes {
		go func() {
			defer n.writes.Done()
			n.write(id, x)
		}()
	}
	n.writes.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.notes) > 0 && !n.closed {
		time.AfterFunc(n.interval, n.flush)
	} else {
		n.armed = false
	}
}

// close drops the notes not yet written (their tasks are being stopped) and waits for
// the writes in progress.
func (n *progressNotes) close() {
	n.mu.Lock()
	n.closed = true
	n.notes = map[string]progressNote{}
	n.mu.Unlock()
	n.writes.Wait()
}

// errStaleProgress stops the write of a progress whose attempt ended, or that a later
// one overtook.
var errStaleProgress = errors.New("the progress is stale")

// reportProgress is an executor's progress call during attempt t.Attempts: p (clamped,
// two decimals as the reference) is published at once, unless the task is being
// stopped, and noted to be stored. inputs are the task's inputs after its pre-hooks.
func (e *Engine) reportProgress(ctx context.Context, rootID string, t *task.Task, inputs map[string]any, p float64, now time.Time) {
	if ctx.Err() != nil {
		return // cancelled or interrupted: its end may be published already
	}
	p = float64(int(clamp01(p)*100+0.5)) / 100
	e.progress.note(t.ID, progressNote{p: p, at: now, attempt: t.Attempts})
	if e.events.wants(EventTaskProgress) {
		snap := t.Clone()
		snap.Inputs, _ = task.CloneValue(inputs).(map[string]any)
		snap.Progress, snap.UpdatedAt = p, now
		e.events.publish(Event{Type: EventTaskProgress, RootID: rootID, TaskID: t.ID,
			Status: task.InProgress, Progress: p, Time: now, Task: snap})
	}
}

// storeProgress writes a running task's noted progress, if the attempt that reported it
// still runs and nothing later was stored. In cluster mode the write is fenced by this
// node's claim of the task, and a task this node no longer claims is not written.
func (e *Engine) storeProgress(id string, n progressNote) {
	ctx, cancel := context.WithTimeout(context.Background(), progressWriteTimeout)
	defer cancel()
	fn := func(st *task.Task) error {
		if st.Status != task.InProgress || st.Attempts != n.attempt || n.at.Before(st.UpdatedAt) {
			return errStaleProgress
		}
		st.Progress = n.p
		st.UpdatedAt = n.at
		return nil
	}
	_, err := e.updateRunning(ctx, id, fn)
	if err != nil && !errors.Is(err, errStaleProgress) && !errors.Is(err, errNotClaimed) {
		e.cfg.Logger.Warn("persisting progress failed", "task", id, "error", err)
	}
}
