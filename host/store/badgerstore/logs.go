package badgerstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.TaskLogs = (*Store)(nil)

// Tasks' log lines (store.TaskLogs) are keys L <task> <seq asc> whose value is the line
// as JSON (Seq in the key), and one head per task, l <task>: the next Seq, the number of
// lines kept and their bytes (8 bytes each). An append writes its lines, the deletes of
// the lines it trims and the head in one commit; the committer is the only writer, so
// the head is always exactly what the task keeps.
const (
	prefixLogLine byte = 'L' // L <task> <seq asc> → log line JSON
	prefixLogHead byte = 'l' // l <task>           → next seq, lines, bytes (8 bytes each)
)

func logTaskPrefix(id string) []byte { return appendString([]byte{prefixLogLine}, id) }

func logLineKey(id string, seq int64) []byte { return appendAsc(logTaskPrefix(id), seq) }

func logHeadKey(id string) []byte { return appendString([]byte{prefixLogHead}, id) }

// logHead is what a task's log holds.
type logHead struct {
	next, lines, bytes int64
}

func (h logHead) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(h.next))
	b = binary.BigEndian.AppendUint64(b, uint64(h.lines))
	return binary.BigEndian.AppendUint64(b, uint64(h.bytes))
}

func readLogHead(txn *badger.Txn, id string) (logHead, error) {
	item, err := txn.Get(logHeadKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return logHead{next: 1}, nil
	}
	if err != nil {
		return logHead{}, fmt.Errorf("read the log head of task %s: %w", id, err)
	}
	var h logHead
	err = item.Value(func(v []byte) error {
		if len(v) != 24 {
			return fmt.Errorf("log head of task %s: stored value of %d bytes, want 24", id, len(v))
		}
		h = logHead{int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:])), int64(binary.BigEndian.Uint64(v[16:]))}
		return nil
	})
	return h, err
}

func decodeLogLine(id string, key, v []byte) (store.LogLine, error) {
	var l store.LogLine
	if err := json.Unmarshal(v, &l); err != nil {
		return l, fmt.Errorf("log line of task %s: %w", id, err)
	}
	rest := key[len(logTaskPrefix(id)):]
	if len(rest) != 8 {
		return l, fmt.Errorf("log line key of task %s: %d bytes after the task, want 8", id, len(rest))
	}
	l.Seq = int64(binary.BigEndian.Uint64(rest) ^ (1 << 63))
	return l, nil
}

var _ store.QueuedLogs = (*Store)(nil)

// AppendLogs implements store.TaskLogs.
func (s *Store) AppendLogs(ctx context.Context, taskID string, lines []store.LogLine, b store.LogBounds) (int64, error) {
	out := s.QueueLogs(ctx, []store.LogAppend{{TaskID: taskID, Lines: lines}}, b)()
	return out[0].First, out[0].Err
}

// QueueLogs implements store.QueuedLogs: the appends are one job of the committer's
// queue, which commits its jobs in order, or a few when a task has several: an append
// reads its task's log as the appends before it left it, and a job prepares all its
// appends before any is written. An append that fails its checks or its read fails
// alone; the commit's failure fails them all.
func (s *Store) QueueLogs(ctx context.Context, appends []store.LogAppend, b store.LogBounds) func() []store.LogAppended {
	out := make([]store.LogAppended, len(appends))
	var waits []func() error
	for i := 0; i < len(appends); {
		n := appendsOfOneJob(appends[i:])
		waits = append(waits, s.queueAppends(ctx, appends[i:i+n], b, out[i:i+n]))
		i += n
	}
	return func() []store.LogAppended {
		for _, wait := range waits {
			if wait != nil {
				wait()
			}
		}
		return out
	}
}

// appendsOfOneJob is the number of appends from the first that name no task twice.
func appendsOfOneJob(appends []store.LogAppend) int {
	seen := make(map[string]bool, len(appends))
	for i, a := range appends {
		if seen[a.TaskID] {
			return i
		}
		seen[a.TaskID] = true
	}
	return len(appends)
}

// queueAppends queues appends as one job and returns what waits for its commit, which
// then has set out (nil when no append passed its checks, whose errors out has).
func (s *Store) queueAppends(ctx context.Context, appends []store.LogAppend, b store.LogBounds, out []store.LogAppended) (wait func() error) {
	prepared := make([]func(*badger.Txn) ([]write, error), len(appends))
	firsts := make([]*int64, len(appends))
	queued := 0
	for i, a := range appends {
		prepared[i], firsts[i], out[i].Err = s.prepareAppend(a.TaskID, a.Lines, b)
		if out[i].Err == nil {
			queued++
		}
	}
	if queued == 0 {
		return nil
	}
	commit := s.c.queue.Enqueue(ctx, func(txn *badger.Txn) ([]write, error) {
		var ws []write
		for i, prepare := range prepared {
			if out[i].Err != nil {
				continue
			}
			w, err := prepare(txn)
			if err != nil {
				out[i].Err = err
				continue
			}
			ws = append(ws, w...)
		}
		return ws, nil
	})
	return func() error {
		err := commit()
		for i := range out {
			if out[i].Err == nil {
				out[i].First, out[i].Err = *firsts[i], err
			}
		}
		return err
	}
}

// prepareAppend checks an append and returns the committer job that writes it, and
// where that job puts the Seq of the first line.
func (s *Store) prepareAppend(taskID string, lines []store.LogLine, b store.LogBounds) (func(*badger.Txn) ([]write, error), *int64, error) {
	lines, err := store.CheckLogAppend(taskID, lines, b)
	if err != nil {
		return nil, nil, err
	}
	first := new(int64)
	values := make([][]byte, len(lines))
	for i, l := range lines {
		if values[i], err = json.Marshal(l); err != nil {
			return nil, nil, fmt.Errorf("append logs of task %s: %w", taskID, err)
		}
	}
	return func(txn *badger.Txn) ([]write, error) {
		h, err := readLogHead(txn, taskID)
		if err != nil {
			return nil, err
		}
		*first = h.next
		// The sizes of the lines kept and then of the new ones, oldest first; only as
		// many kept lines are read as the trim may drop.
		newBytes := int64(0)
		for _, l := range lines {
			newBytes += l.Size()
		}
		total := store.LogBounds{MaxLines: int(h.lines) + len(lines), MaxBytes: h.bytes + newBytes}
		var ws []write
		if total.MaxLines > b.MaxLines || total.MaxBytes > b.MaxBytes {
			if ws, h, err = trimKept(txn, taskID, h, int64(len(lines)), newBytes, b); err != nil {
				return nil, err
			}
		}
		var sizes []int64
		for _, l := range lines {
			sizes = append(sizes, l.Size())
		}
		// Kept lines that survived count first; drop the oldest new ones still over.
		drop := 0
		for drop < len(lines) && (h.lines+int64(len(lines)-drop) > int64(b.MaxLines) || h.bytes+newBytes > b.MaxBytes) {
			newBytes -= sizes[drop]
			drop++
		}
		for i := drop; i < len(lines); i++ {
			ws = append(ws, write{key: logLineKey(taskID, h.next+int64(i)), value: values[i]})
		}
		h = logHead{next: h.next + int64(len(lines)), lines: h.lines + int64(len(lines)-drop), bytes: h.bytes + newBytes}
		return append(ws, write{key: logHeadKey(taskID), value: h.encode()}), nil
	}, first, nil
}

// trimKept returns the deletes of the oldest kept lines of id that must go for the kept
// lines plus n new lines of newBytes to fit b (all of them, when the new ones alone do
// not), and the head without them.
func trimKept(txn *badger.Txn, id string, h logHead, n, newBytes int64, b store.LogBounds) ([]write, logHead, error) {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = logTaskPrefix(id)
	it := txn.NewIterator(opts)
	defer it.Close()
	var ws []write
	for it.Rewind(); it.Valid() && h.lines > 0 && (h.lines+n > int64(b.MaxLines) || h.bytes+newBytes > b.MaxBytes); it.Next() {
		item := it.Item()
		var l store.LogLine
		err := item.Value(func(v []byte) error {
			var err error
			l, err = decodeLogLine(id, item.Key(), v)
			return err
		})
		if err != nil {
			return nil, h, err
		}
		ws = append(ws, write{key: item.KeyCopy(nil), del: true})
		h.lines--
		h.bytes -= l.Size()
	}
	return ws, h, nil
}

// Logs implements store.TaskLogs.
func (s *Store) Logs(ctx context.Context, taskID string, after int64, limit int) ([]store.LogLine, bool, error) {
	if err := store.CheckLogRead(taskID, after, limit); err != nil {
		return nil, false, err
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	var out []store.LogLine
	more := false
	err := s.view(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = logTaskPrefix(taskID)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(logLineKey(taskID, after+1)); it.Valid(); it.Next() {
			if len(out) == limit {
				more = true
				return nil
			}
			item := it.Item()
			var l store.LogLine
			err := item.Value(func(v []byte) error {
				var err error
				l, err = decodeLogLine(taskID, item.Key(), v)
				return err
			})
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	return out, more, err
}

// DeleteLogs implements store.TaskLogs: one commit per task.
func (s *Store) DeleteLogs(ctx context.Context, ids []string) error {
	for _, id := range ids {
		err := s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = logTaskPrefix(id)
			opts.PrefetchValues = false
			it := txn.NewIterator(opts)
			defer it.Close()
			ws := []write{{key: logHeadKey(id), del: true}}
			for it.Rewind(); it.Valid(); it.Next() {
				ws = append(ws, write{key: it.Item().KeyCopy(nil), del: true})
			}
			return ws, nil
		})
		if err != nil {
			return fmt.Errorf("delete the logs of task %s: %w", id, err)
		}
	}
	return nil
}
