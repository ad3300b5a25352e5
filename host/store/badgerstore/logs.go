package badgerstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
)

var _ store.TaskLogs = (*Store)(nil)

// Tasks' log lines (store.TaskLogs). Each task that logged has a head, l <task>: the
// next Seq, the number of lines kept and their bytes (8 bytes each), and, while the head
// stays under Options.ValueThreshold (so that it lives in the LSM tree, not the value
// log) and logInlineMax, the kept lines themselves, inline. A task that logs more keeps
// its lines as keys L <task> <seq asc> whose value is the line as JSON (Seq in the key),
// and a head of the three numbers alone: its lines are spilled. A short task's log (one
// or two lines at the default threshold) is then one entry where it was two. An append
// writes its lines, the deletes of the lines it trims and the head in one commit; the
// committer is the only writer, so the head is always exactly what the task keeps.
//
// A task's lines are the last of those below its head's next Seq, as many as the head
// counts: Delete deletes the heads of the tasks it deletes in its own commit, then their
// lines (reclaimLogs, which skips an id created again meanwhile). Lines that were not
// deleted (that failed, the process died in between, or the id was taken again first)
// are then no task's: a task created later with the same id starts at Seq 1 without a
// head, keeps its lines inline or overwrites the old ones as it spills and appends, and
// reads only from its first kept Seq to below its next.
const (
	prefixLogLine byte = 'L' // L <task> <seq asc> → log line JSON
	prefixLogHead byte = 'l' // l <task>           → next seq, lines, bytes (8 bytes each), inline lines
)

func logTaskPrefix(id string) []byte { return appendString([]byte{prefixLogLine}, id) }

func logLineKey(id string, seq int64) []byte { return appendAsc(logTaskPrefix(id), seq) }

func logHeadKey(id string) []byte { return appendString([]byte{prefixLogHead}, id) }

// logInlineMax bounds a head that holds its lines where the value threshold does not
// (in memory, where it is large): the head is rewritten at each append.
const logInlineMax = 1024

// logHead is what a task's log holds: its lines inline (their JSON without Seq, and
// their sizes, oldest first) unless spilled.
type logHead struct {
	next, lines, bytes int64
	inline             []inlineLine
}

// spilled reports whether h's lines are under keys of their own: it counts lines and
// holds none.
func (h logHead) spilled() bool { return h.lines > 0 && len(h.inline) == 0 }

// inlineLine is a line a head holds: its Size and its JSON.
type inlineLine struct {
	size int64
	json []byte
}

func (h logHead) encode() []byte {
	n := 24
	for _, l := range h.inline {
		n += 2*binary.MaxVarintLen64 + len(l.json)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint64(b, uint64(h.next))
	b = binary.BigEndian.AppendUint64(b, uint64(h.lines))
	b = binary.BigEndian.AppendUint64(b, uint64(h.bytes))
	for _, l := range h.inline {
		b = binary.AppendUvarint(b, uint64(l.size))
		b = binary.AppendUvarint(b, uint64(len(l.json)))
		b = append(b, l.json...)
	}
	return b
}

// decodeLogHead decodes the head of task id: 24 bytes, spilled when it counts lines,
// or 24 bytes and as many inline lines as it counts. The inline lines alias v.
func decodeLogHead(id string, v []byte) (logHead, error) {
	if len(v) < 24 {
		return logHead{}, fmt.Errorf("log head of task %s: stored value of %d bytes, want at least 24", id, len(v))
	}
	h := logHead{next: int64(binary.BigEndian.Uint64(v)), lines: int64(binary.BigEndian.Uint64(v[8:])), bytes: int64(binary.BigEndian.Uint64(v[16:]))}
	if h.next < 1 || h.lines < 0 || h.lines >= h.next {
		return logHead{}, fmt.Errorf("log head of task %s: next %d, lines %d, bytes %d", id, h.next, h.lines, h.bytes)
	}
	rest := v[24:]
	if len(rest) == 0 {
		// Earlier builds counted a line that was not valid UTF-8 by its bytes before JSON
		// replaced them, and took back more when they trimmed it: their count could fall
		// below what they kept, even below 0. It only bounds the next trims.
		if h.lines == 0 || h.bytes < 0 {
			h.bytes = 0
		}
		return h, nil
	}
	total := int64(0)
	for len(rest) > 0 {
		size, n := binary.Uvarint(rest)
		if n <= 0 || size > store.MaxLogLineBytes {
			return logHead{}, fmt.Errorf("log head of task %s: bad size of inline line %d", id, len(h.inline)+1)
		}
		rest = rest[n:]
		length, n := binary.Uvarint(rest)
		if n <= 0 || length > uint64(len(rest)-n) {
			return logHead{}, fmt.Errorf("log head of task %s: bad length of inline line %d", id, len(h.inline)+1)
		}
		rest = rest[n:]
		h.inline = append(h.inline, inlineLine{size: int64(size), json: rest[:length]})
		total += int64(size)
		rest = rest[length:]
	}
	if int64(len(h.inline)) != h.lines || total != h.bytes {
		return logHead{}, fmt.Errorf("log head of task %s: %d inline lines of %d bytes, want %d of %d", id, len(h.inline), total, h.lines, h.bytes)
	}
	return h, nil
}

// readLogHead reads the head of task id (a fresh one when it has none). Its inline lines
// are copies, valid after txn.
func readLogHead(txn *badger.Txn, id string) (logHead, error) {
	item, err := txn.Get(logHeadKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return logHead{next: 1}, nil
	}
	if err != nil {
		return logHead{}, fmt.Errorf("read the log head of task %s: %w", id, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return logHead{}, fmt.Errorf("read the log head of task %s: %w", id, err)
	}
	return decodeLogHead(id, v)
}

// first is the Seq of the oldest line h keeps.
func (h logHead) first() int64 { return h.next - h.lines }

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
// queue, which commits its jobs in order, or a few (logJob.fits): an append reads its
// task's log as the appends before it left it, and a job prepares all its appends before
// any is written, so a task's second append starts another job; and a job stays within
// half a transaction, so that it shares one with the writes queued after it. An append
// that fails its checks or its read fails alone; a commit's failure fails its job.
func (s *Store) QueueLogs(ctx context.Context, appends []store.LogAppend, b store.LogBounds) func() []store.LogAppended {
	out := make([]store.LogAppended, len(appends))
	var jobs []*logJob
	for i, a := range appends {
		p, err := s.prepareAppend(a.TaskID, a.Lines, b)
		if err != nil {
			out[i].Err = err
			continue
		}
		if len(jobs) == 0 || !jobs[len(jobs)-1].fits(s.c, p) {
			jobs = append(jobs, &logJob{tasks: map[string]bool{}})
		}
		jobs[len(jobs)-1].add(i, p)
	}
	waits := make([]func() error, len(jobs))
	for k, j := range jobs {
		waits[k] = s.c.queue.Enqueue(ctx, j.prepare(out))
	}
	return func() []store.LogAppended {
		for k, j := range jobs {
			err := waits[k]()
			for n, i := range j.index {
				if out[i].Err == nil {
					out[i].First, out[i].Err = *j.appends[n].first, err
				}
			}
		}
		return out
	}
}

// logJob is appends that one committer job writes.
type logJob struct {
	index        []int // of each append in the call
	appends      []preparedAppend
	tasks        map[string]bool
	count, bytes int64 // the writes' estimate (committer.estimate)
}

// fits reports whether p may join the job: a job takes at least one append, never two
// of one task, and stays within half of c's transaction.
func (j *logJob) fits(c *committer, p preparedAppend) bool {
	return len(j.appends) == 0 || !j.tasks[p.taskID] &&
		c.fitsHalf(j.count+p.count, j.bytes+p.bytes)
}

func (j *logJob) add(i int, p preparedAppend) {
	j.index = append(j.index, i)
	j.appends = append(j.appends, p)
	j.tasks[p.taskID] = true
	j.count += p.count
	j.bytes += p.bytes
}

// prepare is the job's committer function; it records in out the appends whose read
// fails.
func (j *logJob) prepare(out []store.LogAppended) func(*badger.Txn) ([]write, error) {
	return func(txn *badger.Txn) ([]write, error) {
		var ws []write
		for n, p := range j.appends {
			w, err := p.writes(txn)
			if err != nil {
				out[j.index[n]].Err = err
				continue
			}
			ws = append(ws, w...)
		}
		return ws, nil
	}
}

// preparedAppend is an append checked and encoded: writes returns its writes in the
// committer (setting *first to the Seq of its first line); count and bytes estimate them
// (committer.estimate), counting a trim's delete for each new line.
type preparedAppend struct {
	taskID       string
	writes       func(*badger.Txn) ([]write, error)
	first        *int64
	count, bytes int64
}

// prepareAppend checks and encodes an append.
func (s *Store) prepareAppend(taskID string, lines []store.LogLine, b store.LogBounds) (preparedAppend, error) {
	lines, err := store.CheckLogAppend(taskID, lines, b)
	if err != nil {
		return preparedAppend{}, err
	}
	// Besides a write and a trim's delete a line, the head, under the value threshold,
	// and the spill of the lines it held: as many as their JSON, 80 bytes at least, and
	// two varints each, fit under the threshold.
	limit := min(s.c.threshold, logInlineMax)
	spilled := limit / 80
	p := preparedAppend{taskID: taskID, first: new(int64), count: 1 + 2*int64(len(lines)) + spilled}
	key := len(logLineKey(taskID, 0))
	p.bytes = s.c.estimateLen(len(logHeadKey(taskID)), int(limit)) + spilled*s.c.estimateLen(key, 0) + limit
	values := make([][]byte, len(lines))
	for i, l := range lines {
		if values[i], err = json.Marshal(l); err != nil {
			return preparedAppend{}, fmt.Errorf("append logs of task %s: %w", taskID, err)
		}
		p.bytes += s.c.estimateLen(key, len(values[i])) + s.c.estimateLen(key, 0)
	}
	first := p.first
	p.writes = func(txn *badger.Txn) ([]write, error) {
		h, err := readLogHead(txn, taskID)
		if err != nil {
			return nil, err
		}
		*first = h.next
		if h.spilled() {
			return appendSpilled(txn, taskID, h, lines, values, b)
		}
		return appendInline(taskID, h, lines, values, b, limit), nil
	}
	return p, nil
}

// appendInline is the writes of an append to a head that holds its lines: the head with
// the lines kept, the oldest dropped to fit b, if it stays under limit bytes; else each of
// them spilled to a key of its own and the head without them.
func appendInline(taskID string, h logHead, lines []store.LogLine, values [][]byte, b store.LogBounds, limit int64) []write {
	all := append(make([]inlineLine, 0, len(h.inline)+len(lines)), h.inline...)
	size := h.bytes
	for i, l := range lines {
		all = append(all, inlineLine{size: l.Size(), json: values[i]})
		size += l.Size()
	}
	drop := 0
	for drop < len(all) && (len(all)-drop > b.MaxLines || size > b.MaxBytes) {
		size -= all[drop].size
		drop++
	}
	kept := all[drop:]
	out := logHead{next: h.next + int64(len(lines)), lines: int64(len(kept)), bytes: size, inline: kept}
	if v := out.encode(); int64(len(v)) < limit {
		return []write{{key: logHeadKey(taskID), value: v}}
	}
	ws := make([]write, 0, len(kept)+1)
	for i, l := range kept {
		ws = append(ws, write{key: logLineKey(taskID, out.first()+int64(i)), value: l.json})
	}
	out.inline = nil
	return append(ws, write{key: logHeadKey(taskID), value: out.encode()})
}

// appendSpilled is the writes of an append to a task whose lines are spilled: the new
// lines, the deletes of the oldest kept ones that must go for them to fit b (and of the
// oldest new ones, when they alone do not), and the head.
func appendSpilled(txn *badger.Txn, taskID string, h logHead, lines []store.LogLine, values [][]byte, b store.LogBounds) ([]write, error) {
	newBytes := int64(0)
	for _, l := range lines {
		newBytes += l.Size()
	}
	var ws []write
	if h.lines+int64(len(lines)) > int64(b.MaxLines) || h.bytes+newBytes > b.MaxBytes {
		var err error
		if ws, h, err = trimKept(txn, taskID, h, int64(len(lines)), newBytes, b); err != nil {
			return nil, err
		}
	}
	// Kept lines that survived count first; drop the oldest new ones still over.
	drop := 0
	for drop < len(lines) && (h.lines+int64(len(lines)-drop) > int64(b.MaxLines) || h.bytes+newBytes > b.MaxBytes) {
		newBytes -= lines[drop].Size()
		drop++
	}
	for i := range drop { // a line a deleted task left under the id may hold its Seq
		ws = append(ws, write{key: logLineKey(taskID, h.next+int64(i)), del: true})
	}
	for i := drop; i < len(lines); i++ {
		ws = append(ws, write{key: logLineKey(taskID, h.next+int64(i)), value: values[i]})
	}
	h = logHead{next: h.next + int64(len(lines)), lines: h.lines + int64(len(lines)-drop), bytes: h.bytes + newBytes}
	return append(ws, write{key: logHeadKey(taskID), value: h.encode()}), nil
}

// trimKept returns the deletes of the oldest kept lines of id, spilled, that must go
// for the kept lines plus n new lines of newBytes to fit b (all of them, when the new
// ones alone do not), and the head without them.
func trimKept(txn *badger.Txn, id string, h logHead, n, newBytes int64, b store.LogBounds) ([]write, logHead, error) {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = logTaskPrefix(id)
	it := txn.NewIterator(opts)
	defer it.Close()
	var ws []write
	for it.Seek(logLineKey(id, h.first())); it.Valid() && h.lines > 0 && (h.lines+n > int64(b.MaxLines) || h.bytes+newBytes > b.MaxBytes); it.Next() {
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
		h, err := readLogHead(txn, taskID)
		if err != nil || h.next <= after+1 {
			return err
		}
		if !h.spilled() {
			out, more, err = inlineLines(taskID, h, after, limit)
			return err
		}
		opts := badger.DefaultIteratorOptions
		opts.Prefix = logTaskPrefix(taskID)
		it := txn.NewIterator(opts)
		defer it.Close()
		end := logLineKey(taskID, h.next) // lines from there on are no task's (above)
		for it.Seek(logLineKey(taskID, max(after+1, h.first()))); it.Valid() && bytes.Compare(it.Item().Key(), end) < 0; it.Next() {
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

// inlineLines returns the lines h holds after Seq after, at most limit, and whether more
// follow.
func inlineLines(taskID string, h logHead, after int64, limit int) ([]store.LogLine, bool, error) {
	var out []store.LogLine
	for i, l := range h.inline {
		seq := h.first() + int64(i)
		if seq <= after {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		var line store.LogLine
		if err := json.Unmarshal(l.json, &line); err != nil {
			return nil, false, fmt.Errorf("log line %d of task %s: %w", seq, taskID, err)
		}
		line.Seq = seq
		out = append(out, line)
	}
	return out, false, nil
}

// reclaimLogs deletes every line of the tasks ids (the room of those Delete left below
// no head), as many tasks a commit as half a transaction takes (committer.fitsHalf): a
// commit a task made deleting a 10,000-task tree take seconds of syncs. An id that a
// task has taken again since the Delete is skipped: the lines and head are then that
// task's, and what its predecessor left it overwrites as it appends (above).
func (s *Store) reclaimLogs(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		var n int // the tasks this commit reclaims
		err := s.submit(ctx, func(txn *badger.Txn) ([]write, error) {
			var ws []write
			var size int64
			for n = 0; n < len(ids); n++ {
				w, err := reclaimWrites(txn, ids[n])
				if err != nil {
					return nil, err
				}
				for _, x := range w {
					size += s.c.estimate(x)
				}
				if n > 0 && !s.c.fitsHalf(int64(len(ws)+len(w)), size) {
					break
				}
				ws = append(ws, w...)
			}
			return ws, nil
		})
		if err != nil {
			return fmt.Errorf("delete the logs of %d deleted tasks: %w", len(ids), err)
		}
		ids = ids[n:]
	}
	return nil
}

// reclaimWrites are the deletes of id's log lines (the Delete deleted its head), none if
// a task has id again.
func reclaimWrites(txn *badger.Txn, id string) ([]write, error) {
	switch _, err := txn.Get(taskKey(id)); {
	case err == nil:
		return nil, nil // created again
	case !errors.Is(err, badger.ErrKeyNotFound):
		return nil, fmt.Errorf("task %s: %w", id, err)
	}
	opts := badger.DefaultIteratorOptions
	opts.Prefix = logTaskPrefix(id)
	opts.PrefetchValues = false
	it := txn.NewIterator(opts)
	defer it.Close()
	var ws []write
	for it.Rewind(); it.Valid(); it.Next() {
		ws = append(ws, write{key: it.Item().KeyCopy(nil), del: true})
	}
	return ws, nil
}
