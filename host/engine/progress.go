package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// progressNotes keep running tasks' latest reported progress until it is stored, off the
// executor's path: an executor's progress call returns at once (its task_progress event
// is published then), and every interval the progress noted since is written, one write
// per task, the writes of all tasks at once (so the store commits them together). A task
// that ends before its note is written writes none: its outcome sets its progress. So
// progress costs a task no durable write on its critical path, and a crash loses at
// most the last interval's progress of tasks that start over anyway.
type progressNotes struct {
	interval time.Duration
	write    func(id string, p float64, at time.Time)

	mu     sync.Mutex
	notes  map[string]progressNote // by task id
	armed  bool                    // a flush is scheduled
	closed bool
	writes sync.WaitGroup // flushes' writes in progress
}

type progressNote struct {
	p  float64
	at time.Time
}

func newProgressNotes(interval time.Duration, write func(id string, p float64, at time.Time)) *progressNotes {
	return &progressNotes{interval: interval, write: write, notes: map[string]progressNote{}}
}

// note keeps p as task id's progress to store, replacing a note not yet written.
func (n *progressNotes) note(id string, p float64, at time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.notes[id] = progressNote{p: p, at: at}
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

// flush writes every note taken at once and returns when they are written.
func (n *progressNotes) flush() {
	n.mu.Lock()
	notes := n.notes
	n.notes = map[string]progressNote{}
	n.armed = false
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.writes.Add(len(notes))
	n.mu.Unlock()
	for id, x := range notes {
		go func() {
			defer n.writes.Done()
			n.write(id, x.p, x.at)
		}()
	}
	n.writes.Wait()
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

// errNotRunning stops the write of a progress whose task is no longer running.
var errNotRunning = errors.New("the task is no longer running")

// reportProgress is an executor's progress call: p (clamped, two decimals as the
// reference) is published at once and noted to be stored.
func (e *Engine) reportProgress(rootID string, t *task.Task, p float64, now time.Time) {
	p = float64(int(clamp01(p)*100+0.5)) / 100
	e.progress.note(t.ID, p, now)
	if e.events.active() {
		snap := t.Clone()
		snap.Progress, snap.UpdatedAt = p, now
		e.events.publish(Event{Type: EventTaskProgress, RootID: rootID, TaskID: t.ID,
			Status: task.InProgress, Progress: p, Time: now, Task: snap})
	}
}

// storeProgress writes a running task's noted progress. In cluster mode a task this
// node no longer claims is not written (another node may run it now).
func (e *Engine) storeProgress(id string, p float64, now time.Time) {
	if e.m != nil {
		if _, ok := e.claimOf(id); !ok {
			return
		}
	}
	_, err := e.updateRunning(context.Background(), id, func(st *task.Task) error {
		if st.Status != task.InProgress {
			return errNotRunning
		}
		st.Progress = p
		st.UpdatedAt = now
		return nil
	})
	if err != nil && !errors.Is(err, errNotRunning) {
		e.cfg.Logger.Warn("persisting progress failed", "task", id, "error", err)
	}
}
