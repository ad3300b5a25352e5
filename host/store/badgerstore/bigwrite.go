package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Writes bigger than one transaction. A Delete or UpdateMany whose writes exceed what
// Badger takes in one transaction (the Delete of a tree of 100,000 tasks, the archive of
// one) is committed by the committer in several transactions, and stays atomic:
//   - readers are held off while it is applied (the committer holds the store's view
//     lock for writing), so no read sees part of it;
//   - every chunk commits, with its writes, an undo record (y <write> <chunk> → the
//     previous value of every key it changes), and a last commit deletes the records,
//     which makes the write complete;
//   - on failure the chunks already committed are restored from their records, newest
//     first; after a crash, Open restores every chunk whose record it finds;
//   - when that restore fails too, the store holds part of the write: it refuses every
//     later write and read until it is reopened (breakOn), whose Open restores the
//     records (over anything written after them, which is why nothing may be).
//
// In memory, where nothing survives a crash, the undo records are kept in memory only
// (a record in the transaction would count whole and could double it).
//
// Writes that fit in one transaction are unaffected.

// undoSeq numbers big writes within a process; the record keys also carry the time, so
// records of different processes on one directory never collide.
var undoSeq atomic.Uint64

// undoKey is the key of the undo record of one chunk of a big write.
func undoKey(write string, chunk int) []byte {
	return appendAsc(appendString([]byte{prefixUndo}, write), int64(chunk))
}

// appendUndo appends to b the previous state of key: its value, or absent.
func appendUndo(b, key []byte, old []byte, present bool) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	if !present {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(old)))
	return append(b, old...)
}

// restoreWrites decodes an undo record into the writes that restore what it saved.
func restoreWrites(v []byte) ([]write, error) {
	var ws []write
	next := func(n int) ([]byte, error) {
		if len(v) < n {
			return nil, errors.New("truncated undo record")
		}
		b := v[:n]
		v = v[n:]
		return b, nil
	}
	for len(v) > 0 {
		b, err := next(4)
		if err != nil {
			return nil, err
		}
		key, err := next(int(binary.BigEndian.Uint32(b)))
		if err != nil {
			return nil, err
		}
		flag, err := next(1)
		if err != nil {
			return nil, err
		}
		if flag[0] == 0 {
			ws = append(ws, write{key: key, del: true})
			continue
		}
		if b, err = next(4); err != nil {
			return nil, err
		}
		val, err := next(int(binary.BigEndian.Uint32(b)))
		if err != nil {
			return nil, err
		}
		ws = append(ws, write{key: key, value: val})
	}
	return ws, nil
}

// commitBig commits writes, too big for one transaction, in chunks (see above). It is
// called on the committer goroutine with no transaction open.
func (c *committer) commitBig(writes []write) error {
	c.views.Lock()
	defer c.views.Unlock()
	c.cache.applied(writes) // not marked stored again: the store reads them next time
	id := strconv.FormatInt(c.now().UnixNano(), 36) + "-" + strconv.FormatUint(undoSeq.Add(1), 36)
	chunks := 0
	var records [][]byte // in memory only
	var err error
	for rest := writes; len(rest) > 0; {
		var n int
		var record []byte
		if c.testBigWriteErr != nil {
			err = c.testBigWriteErr(false, chunks)
		}
		if err != nil {
			break
		}
		if n, record, err = c.commitChunk(id, chunks, rest); err != nil {
			break
		}
		if c.inMemory {
			records = append(records, record)
		}
		rest = rest[n:]
		chunks++
		if c.testChunkHook != nil {
			c.testChunkHook(chunks - 1)
		}
	}
	if err == nil && c.inMemory {
		return nil
	}
	if err == nil {
		txn := c.db.NewTransaction(true)
		deletes := make([]write, chunks)
		for i := range chunks {
			deletes[i] = write{key: undoKey(id, i), del: true}
			if err = txn.Delete(deletes[i].key); err != nil {
				break
			}
		}
		if err == nil {
			err = c.journal.commit(txn, deletes)
		} else {
			txn.Discard()
		}
		if err == nil {
			return nil
		}
	}
	for i := chunks - 1; i >= 0; i-- {
		var uerr error
		if c.testBigWriteErr != nil {
			uerr = c.testBigWriteErr(true, i)
		}
		switch {
		case uerr != nil:
		case c.inMemory:
			var ws []write
			if ws, uerr = undoWrites(records[i]); uerr == nil {
				uerr = commitInBatches(c.db, c.journal, ws)
			}
		default:
			uerr = restoreChunk(c.db, c.journal, undoKey(id, i))
		}
		if uerr != nil {
			return c.breakOn(err, chunks, uerr)
		}
	}
	return err
}

// breakOn stops the store after a big write failed (err) and so did the undo of its
// committed chunks (uerr), and returns the write's error. The store then holds part of
// the write; on disk, its undo records are still stored, and the next Open restores them
// over whatever is written after them, so nothing more is: every later job, and every
// read (no read sees part of a big write), fails until the store is reopened. In memory
// nothing is restored at all. It is called with views held for writing.
func (c *committer) breakOn(err error, chunks int, uerr error) error {
	if c.inMemory {
		c.broken = fmt.Errorf("task store: a write failed and undoing its %d committed chunks failed too (%v); the store accepts no more reads or writes", chunks, uerr)
	} else {
		c.broken = fmt.Errorf("task store: a write failed and undoing its %d committed chunks failed too (%v); the store accepts no more reads or writes until it is reopened, which finishes the undo", chunks, uerr)
	}
	return fmt.Errorf("%w (%v)", err, c.broken)
}

// commitChunk commits a prefix of writes, as much as half a transaction takes with its
// undo record, and returns its length and the record.
func (c *committer) commitChunk(id string, chunk int, writes []write) (int, []byte, error) {
	maxCount, maxSize, maxRecord := c.maxCount/2, c.maxSize/2, c.maxValue/2
	txn := c.db.NewTransaction(true)
	defer txn.Discard()
	var record []byte
	var count, size int64
	n := 0
	for _, w := range writes {
		old, present, err := valueOf(txn, w.key)
		if err != nil {
			return 0, nil, err
		}
		prev := len(record)
		record = appendUndo(record, w.key, old, present)
		// The chunk, and the transaction that restores it, both stay within bounds.
		sz := c.estimate(w) + c.estimate(write{key: w.key, value: old})
		if !c.inMemory {
			sz += int64(len(record) - prev)
		}
		if n > 0 && (count+2 >= maxCount || size+sz >= maxSize || int64(len(record)) >= maxRecord) {
			record = record[:prev]
			break
		}
		if err := apply(txn, []write{w}); err != nil {
			return 0, nil, err
		}
		count++
		size += sz
		n++
	}
	chunkWrites := writes[:n:n]
	if !c.inMemory {
		undo := write{key: undoKey(id, chunk), value: record}
		if err := txn.Set(undo.key, undo.value); err != nil {
			return 0, nil, err
		}
		chunkWrites = append(chunkWrites, undo)
	}
	if err := c.journal.commit(txn, chunkWrites); err != nil {
		return 0, nil, fmt.Errorf("task store commit: %w", err)
	}
	return n, record, nil
}

// valueOf returns the value of key in txn and whether it exists.
func valueOf(txn *badger.Txn, key []byte) ([]byte, bool, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := item.ValueCopy(nil)
	return v, err == nil, err
}

// restoreChunk restores the keys saved in the undo record at key, then deletes it
// (commitInBatches: the record may have been written under larger transaction bounds
// than this process's, and is applied again whole if a crash interrupts its restore).
func restoreChunk(db *badger.DB, j *journal, key []byte) error {
	var v []byte
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return err
	}
	ws, err := undoWrites(v)
	if err != nil {
		return fmt.Errorf("undo record %q: %w", key, err)
	}
	return commitInBatches(db, j, append(ws, write{key: key, del: true}))
}

// undoWrites returns the writes that restore what an undo record saved, in the order to
// apply them: backwards, so that a key saved twice in one record gets its earliest value.
func undoWrites(record []byte) ([]write, error) {
	ws, err := restoreWrites(record)
	if err != nil {
		return nil, err
	}
	slices.Reverse(ws)
	return ws, nil
}

// undoBigWrites restores the chunks of big writes that a crash interrupted: every chunk
// whose undo record is still stored, newest first.
func undoBigWrites(db *badger.DB, j *journal) (int, error) {
	records, err := keysWithPrefix(db, prefixUndo)
	if err != nil {
		return 0, err
	}
	// Within one write, chunks sort by number: restore them backwards. Across writes the
	// order does not matter: a crash interrupts at most one.
	for i := len(records) - 1; i >= 0; i-- {
		if err := restoreChunk(db, j, records[i]); err != nil {
			return 0, fmt.Errorf("undo interrupted write: %w", err)
		}
	}
	return len(records), nil
}
