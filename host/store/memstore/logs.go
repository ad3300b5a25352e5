package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.TaskLogs = (*Store)(nil)

// logState is the log lines of every task. Its own lock serializes appends.
type logState struct {
	mu    sync.Mutex
	tasks map[string]*taskLog
}

type taskLog struct {
	next  int64 // the Seq of the next line
	lines []store.LogLine
}

// logOp runs fn with the log state locked, once the call is admitted (see enter).
func (s *Store) logOp(ctx context.Context, fn func(tasks map[string]*taskLog)) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.ops.Done()
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	if s.logs.tasks == nil {
		s.logs.tasks = map[string]*taskLog{}
	}
	fn(s.logs.tasks)
	return nil
}

var _ store.QueuedLogs = (*Store)(nil)

// QueueLogs implements store.QueuedLogs: the appends are done before it returns, so
// every later write follows them.
func (s *Store) QueueLogs(ctx context.Context, appends []store.LogAppend, b store.LogBounds) func() []store.LogAppended {
	out := make([]store.LogAppended, len(appends))
	for i, a := range appends {
		out[i].First, out[i].Err = s.AppendLogs(ctx, a.TaskID, a.Lines, b)
	}
	return func() []store.LogAppended { return out }
}

// AppendLogs implements store.TaskLogs.
func (s *Store) AppendLogs(ctx context.Context, taskID string, lines []store.LogLine, b store.LogBounds) (int64, error) {
	lines, err := store.CheckLogAppend(taskID, lines, b)
	if err != nil {
		return 0, err
	}
	var first int64
	err = s.logOp(ctx, func(tasks map[string]*taskLog) {
		tl := tasks[taskID]
		if tl == nil {
			tl = &taskLog{next: 1}
			tasks[taskID] = tl
		}
		first = tl.next
		for _, l := range lines {
			l.Seq = tl.next
			tl.next++
			tl.lines = append(tl.lines, l)
		}
		sizes := make([]int64, len(tl.lines))
		for i, l := range tl.lines {
			sizes[i] = l.Size()
		}
		if n := store.TrimLogs(sizes, b); n > 0 {
			tl.lines = slices.Delete(tl.lines, 0, n)
		}
	})
	return first, err
}

// Logs implements store.TaskLogs.
func (s *Store) Logs(ctx context.Context, taskID string, after int64, limit int) ([]store.LogLine, bool, error) {
	if err := store.CheckLogRead(taskID, after, limit); err != nil {
		return nil, false, err
	}
	var out []store.LogLine
	more := false
	err := s.logOp(ctx, func(tasks map[string]*taskLog) {
		tl := tasks[taskID]
		if tl == nil {
			return
		}
		i, _ := slices.BinarySearchFunc(tl.lines, after+1, func(l store.LogLine, seq int64) int {
			switch {
			case l.Seq < seq:
				return -1
			case l.Seq > seq:
				return 1
			}
			return 0
		})
		rest := tl.lines[i:]
		more = len(rest) > limit
		out = slices.Clone(rest[:min(limit, len(rest))])
	})
	return out, more, err
}

// forgetLogs deletes the lines of tasks ids, which a write holding the writer is
// deleting: no Create of those ids comes in between.
func (s *Store) forgetLogs(ids []string) {
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	for _, id := range ids {
		delete(s.logs.tasks, id)
	}
}
