package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/apflow-wasm/apflow/host/executor"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// Default bounds of what a task keeps of its log lines (Config.TaskLogs).
const (
	DefaultTaskLogLines = 1000
	DefaultTaskLogBytes = 1 << 20
)

// logFlushInterval is how long a captured line may wait before it is written: the
// delay after which a follower sees a running task's lines.
const logFlushInterval = 200 * time.Millisecond

// logAppendTimeout bounds one AppendLogs, and the QueueLogs calls of one round
// together: a store that hangs loses those lines (with a warning) instead of holding up
// the round of the task's outcome, which waits for the lines once its first transaction
// is committed.
const logAppendTimeout = 10 * time.Second

// logChunkBytes bounds the messages' bytes of one append, so an append stays far below
// a store's transaction limits.
const logChunkBytes = 256 << 10

// taskLogs captures the log lines of tasks' executor and hook calls and writes them to
// the store in batches (docs/decisions.md §18): a background loop appends each task's
// waiting lines every logFlushInterval, one append per task. At the end of an attempt
// the task's remaining lines are stored no later than its outcome, so nothing of the
// attempt is lost at completion: where the store keeps a commit order, the worker holds
// them (hold) and the coordinator queues the held lines of a round's outcomes ahead of
// the round's writes (queueHeld); elsewhere the worker appends them at once (flush). Stored
// lines are published as task_log events.
// The zero st disables it: lines then only go to the engine's logger.
type taskLogs struct {
	st      store.TaskLogs
	bounds  store.LogBounds
	now     func() time.Time
	log     hclog.Logger
	publish func(rootID, taskID string, lines []store.LogLine)

	mu      sync.Mutex
	pending map[string]*pendingLog // by task id
	// writing holds the tasks whose taken lines are being appended, or held for the
	// coordinator's round until queueHeld's wait has returned: one append per task at a
	// time, so a task's lines are stored in the order they were logged. The appends of
	// different tasks do not wait for each other, but held lines wait for their round
	// (close, which waits for every append, must come after the runs have ended).
	writing  map[string]bool
	written  *sync.Cond // on mu: signalled when an append of taken lines ends
	started  bool       // the loop was started
	closed   bool       // close was called: no loop starts
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

type pendingLog struct {
	rootID string
	lines  []store.LogLine
	bytes  int64 // of the lines' messages
}

// newTaskLogs returns the capture of an engine with st (nil when the store keeps no
// logs) and bounds b, whose zero fields take the defaults.
func newTaskLogs(st store.Store, b store.LogBounds, now func() time.Time, log hclog.Logger,
	publish func(rootID, taskID string, lines []store.LogLine)) *taskLogs {
	tl, _ := st.(store.TaskLogs)
	if b.MaxLines <= 0 {
		b.MaxLines = DefaultTaskLogLines
	}
	if b.MaxBytes <= 0 {
		b.MaxBytes = DefaultTaskLogBytes
	}
	l := &taskLogs{st: tl, bounds: b, now: now, log: log, publish: publish, pending: map[string]*pendingLog{}, writing: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	l.written = sync.NewCond(&l.mu)
	return l
}

// logger returns base, also capturing into task taskID's log what is logged through it,
// as source ("executor" or "hook <id>") of its attempt number attempt (as in its retry
// history).
func (l *taskLogs) logger(base hclog.Logger, rootID, taskID string, attempt int, source string) hclog.Logger {
	if l.st == nil {
		return base
	}
	return &captureLogger{Logger: base, sink: l, rootID: rootID, taskID: taskID, attempt: attempt, source: source,
		forwarded: new(atomic.Int64)}
}

// maxForwardedLines bounds the lines of one task attempt's executor (or of one hook)
// that reach the host's log: a plugin writing without end must not flood it. Its task
// log keeps its lines up to the store's bounds.
const maxForwardedLines = 50

// hookTee is the executor.LogTee of the hooks of t's attempt number attempt: the one
// about to run for pre-hooks (t.NextAttempt), the one that ended for post-hooks
// (t.EndedAttempt).
func (l *taskLogs) hookTee(rootID string, t *task.Task, attempt int) executor.LogTee {
	return func(id string, base hclog.Logger) hclog.Logger {
		return l.logger(base, rootID, t.ID, attempt, "hook "+id)
	}
}

// add queues one captured line, as it will be stored (store.LogLine.AsStored) and cut
// to store.MaxLogLineBytes. A task's waiting lines beyond its line bound are dropped
// oldest first (the append would trim them anyway).
func (l *taskLogs) add(rootID, taskID string, line store.LogLine) {
	line = line.AsStored()
	if len(line.Message) > store.MaxLogLineBytes {
		cut := store.MaxLogLineBytes - len("…")
		for cut > 0 && line.Message[cut]&0xC0 == 0x80 {
			cut-- // not inside a UTF-8 sequence
		}
		line.Message = line.Message[:cut] + "…"
	}
	l.mu.Lock()
	p := l.pending[taskID]
	if p == nil {
		p = &pendingLog{rootID: rootID}
		l.pending[taskID] = p
	}
	p.lines = append(p.lines, line)
	p.bytes += int64(len(line.Message))
	// Beyond either bound the oldest waiting lines go (the append would trim them): a
	// task logging faster than the flush holds at most its bounds in memory.
	drop := 0
	for len(p.lines)-drop > l.bounds.MaxLines || (p.bytes > l.bounds.MaxBytes && len(p.lines)-drop > 1) {
		p.bytes -= int64(len(p.lines[drop].Message))
		drop++
	}
	if drop > 0 {
		p.lines = append(p.lines[:0:0], p.lines[drop:]...)
	}
	if !l.started && !l.closed {
		l.started = true
		go l.loop()
	}
	l.mu.Unlock()
}

// take removes and returns the waiting lines of taskID, marking it as being written
// until release is called. It first waits for an append of taskID's lines in progress.
func (l *taskLogs) take(taskID string) *pendingLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.writing[taskID] {
		l.written.Wait()
	}
	p := l.pending[taskID]
	if p != nil {
		delete(l.pending, taskID)
		l.writing[taskID] = true
	}
	return p
}

// takeAll removes and returns the waiting lines of every task, marking them as being
// written until release is called. Tasks whose lines are being written are left for the
// next take; with wait, takeAll first waits until no append is in progress (close).
func (l *taskLogs) takeAll(wait bool) map[string]*pendingLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	for wait && len(l.writing) > 0 {
		l.written.Wait()
	}
	out := make(map[string]*pendingLog, len(l.pending))
	for id, p := range l.pending {
		if !l.writing[id] {
			out[id] = p
			delete(l.pending, id)
			l.writing[id] = true
		}
	}
	return out
}

// release ends the append of a task's taken lines.
func (l *taskLogs) release(id string) {
	l.mu.Lock()
	delete(l.writing, id)
	l.mu.Unlock()
	l.written.Broadcast()
}

// flush writes the waiting lines of taskID before it returns, after the loop's append
// of its lines in progress. A task that logged nothing costs no wait. The flushes of
// different tasks do not wait for each other.
func (l *taskLogs) flush(ctx context.Context, taskID string) {
	if l.st == nil {
		return
	}
	if p := l.take(taskID); p != nil {
		defer l.release(taskID)
		l.write(ctx, taskID, p)
	}
}

// heldLines are the last lines of a task's attempt, taken by hold for the store to queue
// ahead of the task's outcome.
type heldLines struct {
	logs   *taskLogs
	taskID string
	p      *pendingLog
}

// hold takes the waiting lines of taskID for the store to queue ahead of the task's
// outcome, when the store can queue them (store.QueuedLogs): the coordinator queues the
// lines of a round's outcomes together (queueHeld) just before the round's writes, which
// then share their commit (or come in a later one) instead of each waiting for a commit
// of its own. The lines count as being written from hold on: a flush of the task waits
// for them until queueHeld's wait has returned. A store that cannot queue gets the lines at
// once (flush) and hold returns nil; nil too when no line waits.
func (l *taskLogs) hold(ctx context.Context, taskID string) *heldLines {
	if l.st == nil {
		return nil
	}
	if _, ok := l.st.(store.QueuedLogs); !ok {
		l.flush(ctx, taskID)
		return nil
	}
	p := l.take(taskID)
	if p == nil {
		return nil
	}
	return &heldLines{logs: l, taskID: taskID, p: p}
}

// queueHeld queues lines held by one taskLogs, of several tasks, in one QueueLogs call
// (the store splits it as its transactions require) and returns what waits until
// they are stored, publishes them and ends their hold. It must be called once, after the
// writes that must follow the lines were submitted: until it is, the tasks' next lines
// wait, and so does close.
func queueHeld(ctx context.Context, held []*heldLines) (stored func()) {
	l := held[0].logs
	q, ok := l.st.(store.QueuedLogs)
	if !ok { // hold holds lines only for such a store
		panic("engine: lines held for a store that cannot queue them")
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logAppendTimeout)
	var appends []store.LogAppend
	var roots []string
	for _, h := range held {
		for _, chunk := range logChunks(h.p.lines) {
			appends = append(appends, store.LogAppend{TaskID: h.taskID, Lines: chunk})
			roots = append(roots, h.p.rootID)
		}
	}
	wait := q.QueueLogs(actx, appends, l.bounds)
	return func() {
		defer cancel()
		for i, out := range wait() {
			l.stored(roots[i], appends[i].TaskID, appends[i].Lines, out.First, out.Err)
		}
		for _, h := range held {
			l.release(h.taskID)
		}
	}
}

// flushAll writes the waiting lines of every task at once (see takeAll for wait).
func (l *taskLogs) flushAll(ctx context.Context, wait bool) {
	if l.st == nil {
		return
	}
	var wg sync.WaitGroup
	for id, p := range l.takeAll(wait) {
		wg.Go(func() {
			defer l.release(id)
			l.write(ctx, id, p)
		})
	}
	wg.Wait()
}

// write appends p's lines to task id's log, in chunks, and publishes them.
func (l *taskLogs) write(ctx context.Context, id string, p *pendingLog) {
	for _, chunk := range logChunks(p.lines) {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logAppendTimeout)
		first, err := l.st.AppendLogs(actx, id, chunk, l.bounds)
		cancel()
		l.stored(p.rootID, id, chunk, first, err)
	}
}

// logChunks splits lines into appends of at most store.MaxLogBatch lines and about
// logChunkBytes.
func logChunks(lines []store.LogLine) [][]store.LogLine {
	var out [][]store.LogLine
	for rest := lines; len(rest) > 0; {
		n, size := 0, 0
		for n < len(rest) && n < store.MaxLogBatch && (n == 0 || size+len(rest[n].Message) <= logChunkBytes) {
			size += len(rest[n].Message)
			n++
		}
		out = append(out, rest[:n])
		rest = rest[n:]
	}
	return out
}

// stored publishes an appended chunk of task id's lines (the first stored as Seq first),
// or logs that the append failed.
func (l *taskLogs) stored(rootID, id string, chunk []store.LogLine, first int64, err error) {
	if err != nil {
		l.log.Warn("storing a task's log lines failed; they are lost", "task", id, "lines", len(chunk), "error", err)
		return
	}
	for i := range chunk { // as stored: add took each line AsStored
		chunk[i].Seq = first + int64(i)
	}
	l.publish(rootID, id, chunk)
}

// loop flushes every logFlushInterval until close.
func (l *taskLogs) loop() {
	defer close(l.done)
	tick := time.NewTicker(logFlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		l.flushAll(context.Background(), false)
	}
}

// close stops the loop and writes what still waits. It may be called more than once.
func (l *taskLogs) close(ctx context.Context) {
	l.mu.Lock()
	started := l.started
	l.closed = true // no loop starts any more
	l.mu.Unlock()
	if started {
		l.stopOnce.Do(func() { close(l.stop) })
		<-l.done
	}
	l.flushAll(ctx, true)
}

// captureLogger is an hclog.Logger that queues every line (whatever the engine logger's
// level) for the task's log and forwards the first maxForwardedLines to the engine's
// logger.
type captureLogger struct {
	hclog.Logger
	sink           *taskLogs
	rootID, taskID string
	attempt        int
	source         string
	implied        []any         // args added by With on this logger
	forwarded      *atomic.Int64 // lines forwarded, shared with the loggers With and Named make
}

func (c *captureLogger) Log(level hclog.Level, msg string, args ...any) {
	c.capture(level, msg, args)
	if level < c.Logger.GetLevel() {
		return // not shown by the engine's logger: not counted
	}
	switch n := c.forwarded.Add(1); {
	case n <= maxForwardedLines:
		c.Logger.Log(level, msg, args...)
	case n == maxForwardedLines+1:
		c.Logger.Warn(fmt.Sprintf("more lines than %d: the rest go to the task's log only (apflow tasks logs %s)",
			maxForwardedLines, c.taskID), "source", c.source)
	}
}
func (c *captureLogger) Trace(msg string, args ...any) { c.Log(hclog.Trace, msg, args...) }
func (c *captureLogger) Debug(msg string, args ...any) { c.Log(hclog.Debug, msg, args...) }
func (c *captureLogger) Info(msg string, args ...any)  { c.Log(hclog.Info, msg, args...) }
func (c *captureLogger) Warn(msg string, args ...any)  { c.Log(hclog.Warn, msg, args...) }
func (c *captureLogger) Error(msg string, args ...any) { c.Log(hclog.Error, msg, args...) }

// The capture keeps every level, so callers that ask before logging log.
func (c *captureLogger) IsTrace() bool { return true }
func (c *captureLogger) IsDebug() bool { return true }
func (c *captureLogger) IsInfo() bool  { return true }
func (c *captureLogger) IsWarn() bool  { return true }
func (c *captureLogger) IsError() bool { return true }

func (c *captureLogger) With(args ...any) hclog.Logger {
	d := *c
	d.Logger = c.Logger.With(args...)
	d.implied = append(append([]any(nil), c.implied...), args...)
	return &d
}

func (c *captureLogger) Named(name string) hclog.Logger {
	d := *c
	d.Logger = c.Logger.Named(name)
	return &d
}

func (c *captureLogger) ResetNamed(name string) hclog.Logger {
	d := *c
	d.Logger = c.Logger.ResetNamed(name)
	return &d
}

func (c *captureLogger) capture(level hclog.Level, msg string, args []any) {
	if level == hclog.Off || level == hclog.NoLevel {
		level = hclog.Info
	}
	var b strings.Builder
	b.WriteString(msg)
	for _, kv := range [][]any{c.implied, args} {
		for i := 0; i < len(kv); i += 2 {
			if i+1 < len(kv) {
				fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
			} else {
				fmt.Fprintf(&b, " %v", kv[i])
			}
		}
	}
	c.sink.add(c.rootID, c.taskID, store.LogLine{Time: c.sink.now(), Attempt: c.attempt, Source: c.source,
		Level: level.String(), Message: b.String()})
}

// publishLogs publishes stored lines of a task as a task_log event.
func (e *Engine) publishLogs(rootID, taskID string, lines []store.LogLine) {
	if !e.events.wants(EventTaskLog) {
		return
	}
	e.events.publish(Event{Type: EventTaskLog, RootID: rootID, TaskID: taskID, Time: e.cfg.Now(), Logs: lines})
}
