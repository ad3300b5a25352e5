package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// LogLine is one line a plugin or hook logged while running a task (docs/decisions.md §18).
type LogLine struct {
	// Seq numbers the task's lines from 1, in the order they were appended; it is never
	// reused for the task, so a reader resumes after the last Seq it saw even when older
	// lines were trimmed meanwhile. Set by AppendLogs.
	Seq int64 `json:"seq"`
	// Time is when the line was logged (UTC, microsecond precision once stored).
	Time time.Time `json:"time"`
	// Attempt is the task's attempt the line belongs to (task.Task.Attempt when it ran).
	Attempt int `json:"attempt"`
	// Source names who logged it: "executor" or "hook <id>".
	Source string `json:"source"`
	// Level is trace, debug, info, warn or error.
	Level string `json:"level"`
	// Message is the line, its key-value pairs appended as key=value.
	Message string `json:"message"`
}

// Size is what the line costs against LogBounds.MaxBytes: its message bytes.
func (l LogLine) Size() int64 { return int64(len(l.Message)) }

// LogBounds bound what a task keeps: after an append, its oldest lines are trimmed until
// at most MaxLines lines of at most MaxBytes bytes (sum of Size) remain. Both must be
// positive.
type LogBounds struct {
	MaxLines int
	MaxBytes int64
}

// Hard bounds of every backend.
const (
	// MaxLogLineBytes bounds one line's message (the engine truncates longer ones).
	MaxLogLineBytes = 16 << 10
	// MaxLogRead bounds how many lines one Logs call returns.
	MaxLogRead = 1000
	// MaxLogBatch bounds how many lines one AppendLogs call appends.
	MaxLogBatch = 1000
)

// TaskLogs keeps the log lines of tasks (docs/decisions.md §18). Every backend implements
// it (checked by storetest.RunLogs).
//
// Guarantees:
//   - Lines are kept per task id, across the task's attempts, re-runs and resets. They go
//     with the task: Delete makes them none in its own commit, so that a task created
//     later with the same id (a submission may give its own ids) never shows them, and
//     takes their room back. A backend does not check that the task exists.
//   - AppendLogs is atomic: its lines get consecutive Seqs after every earlier line of
//     the task and the trim to the bounds happens in the same write; concurrent appends
//     of one task are serialized.
//   - The bounds are those of the call that appends: lowering them trims at the next
//     append. A line larger than MaxBytes on its own is not kept (its Seq is used).
type TaskLogs interface {
	// AppendLogs appends lines (Seq ignored and assigned) to the log of taskID and trims
	// it to b. It returns the Seq of the first line (the others follow it). Errors: those
	// of CheckLogAppend.
	AppendLogs(ctx context.Context, taskID string, lines []LogLine, b LogBounds) (first int64, err error)
	// Logs returns up to limit (1..MaxLogRead) lines of taskID with Seq > after, oldest
	// first; more says whether further lines follow. A task without lines has none.
	Logs(ctx context.Context, taskID string, after int64, limit int) (lines []LogLine, more bool, err error)
}

// QueuedLogs is a TaskLogs that can queue appends ahead of the writes that follow them,
// so that tasks' last lines and their outcomes share one commit instead of costing two
// in a row. A backend implements it only if it keeps that order.
type QueuedLogs interface {
	TaskLogs
	// QueueLogs queues appends, in order, each checked, numbered and trimmed to b as
	// AppendLogs would, and returns once they are queued: a write of the store called
	// after QueueLogs returns is committed in the same commit as the appends or a later
	// one, so it is never durable before the lines are. The appends of one call share
	// as few commits as the backend can. One that fails its checks (its task id, its
	// lines) fails alone; a commit that fails fails the appends it held. wait returns
	// their outcomes, in the order of appends; it must be called once.
	QueueLogs(ctx context.Context, appends []LogAppend, b LogBounds) (wait func() []LogAppended)
}

// LogAppend is one append of lines to a task's log (QueuedLogs.QueueLogs).
type LogAppend struct {
	TaskID string
	Lines  []LogLine
}

// LogAppended is the outcome of one LogAppend: the Seq of its first line, as AppendLogs
// returns it, or its error.
type LogAppended struct {
	First int64
	Err   error
}

// AsStored returns l as every backend stores it: its time in UTC at microsecond
// precision, and its strings valid UTF-8 without NUL (U+FFFD for each run of bytes that
// is not UTF-8, and for each NUL, which PostgreSQL's text refuses), so that its Size is
// the same stored and read back. Seq is left as it is. A message may come out longer
// than it went in (U+FFFD is 3 bytes): MaxLogLineBytes bounds the stored form.
func (l LogLine) AsStored() LogLine {
	l.Time = l.Time.UTC().Truncate(time.Microsecond)
	l.Message = storedString(l.Message)
	l.Source = storedString(l.Source)
	l.Level = storedString(l.Level)
	return l
}

func storedString(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// CheckLogAppend checks an append before any backend writes it and returns the lines as
// backends store them (AsStored, Seq 0).
func CheckLogAppend(taskID string, lines []LogLine, b LogBounds) ([]LogLine, error) {
	if err := CheckKeyString("task id", taskID); err != nil {
		return nil, fmt.Errorf("append logs: %w", err)
	}
	if taskID == "" {
		return nil, fmt.Errorf("append logs: empty task id")
	}
	if b.MaxLines <= 0 || b.MaxBytes <= 0 {
		return nil, fmt.Errorf("append logs of task %s: bounds must be positive (max_lines %d, max_bytes %d)", taskID, b.MaxLines, b.MaxBytes)
	}
	if len(lines) > MaxLogBatch {
		return nil, fmt.Errorf("append logs of task %s: %d lines, at most %d per append", taskID, len(lines), MaxLogBatch)
	}
	out := make([]LogLine, len(lines))
	for i, l := range lines {
		l = l.AsStored()
		if len(l.Message) > MaxLogLineBytes {
			return nil, fmt.Errorf("append logs of task %s: line %d has %d bytes stored, at most %d", taskID, i, len(l.Message), MaxLogLineBytes)
		}
		l.Seq = 0
		out[i] = l
	}
	return out, nil
}

// CheckLogRead checks the arguments of a Logs call.
func CheckLogRead(taskID string, after int64, limit int) error {
	if taskID == "" {
		return fmt.Errorf("read logs: empty task id")
	}
	if after < 0 {
		return fmt.Errorf("read logs of task %s: after %d is negative", taskID, after)
	}
	if limit < 1 || limit > MaxLogRead {
		return fmt.Errorf("read logs of task %s: limit %d, want 1..%d", taskID, limit, MaxLogRead)
	}
	return nil
}

// TrimLogs returns how many of the oldest of sizes (a task's line sizes, oldest first)
// must go for the rest to fit b.
func TrimLogs(sizes []int64, b LogBounds) int {
	var total int64
	for _, s := range sizes {
		total += s
	}
	drop := 0
	for drop < len(sizes) && (len(sizes)-drop > b.MaxLines || total > b.MaxBytes) {
		total -= sizes[drop]
		drop++
	}
	return drop
}
