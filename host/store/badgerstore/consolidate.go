package badgerstore

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Consolidation of the value log, by Close's maintenance (maintenance.go).
//
// Badger's collection frees only files that compactions have found half dead. A process
// whose large values stay live (a task with small inputs and a result of ValueThreshold
// bytes or more: its pending and running versions stay in the LSM tree) keeps a file of
// its own that no collection frees, and each such file costs every later process about
// 80 µs, most of it in Badger's Close. So a maintenance that finds many value-log files
// after its collection rewrites, unchanged, the live values written into the value log
// since the last such rewrite: they go into its own file, and once compactions have
// dropped their old versions, a later maintenance's collection frees the files they
// were in.
//
// Guarantees and limits:
//   - A rewrite writes the very bytes a key holds, through the committer and the journal,
//     so it changes no key's value; a crash before it ends leaves some keys rewritten,
//     and the next maintenance rewrites them again.
//   - It reads every key of the store and writes each value again, so it runs only when
//     the files since the last one are many enough for what they cost the processes to
//     come to outweigh that (consolidationPays), and never in a store of more than
//     maxConsolidationKeys keys or for more than maxConsolidationBytes (about a second
//     each). Past those limits it rewrites nothing and records that it moved on: the
//     files before stay (a server's, large, which their count does not make costly, or
//     the pile a store gathered before this existed, if it is that large).
//   - A record (consolidatedKey) keeps the versions it rewrote through and the newest
//     file then, so the next rewrite skips what it packed. Values Badger's collection
//     moves keep their versions: a file that took some of those after the record is
//     counted, and not emptied by the next rewrite.
const (
	// fileCostKeys is about how many keys a scan of the store reads in the time a
	// value-log file costs a process (80 µs, against about 0.4 µs a key).
	fileCostKeys = 200
	// fileCostBytes is about how many bytes of values a maintenance rewrites in that
	// time (about 20 µs a KiB, journal and value log synced).
	fileCostBytes = 4 << 10
	// maxConsolidationKeys and maxConsolidationBytes bound one rewrite's scan and writes.
	maxConsolidationKeys  = 2_500_000
	maxConsolidationBytes = 64 << 20
)

// consolidationPays reports whether rewriting the live values of files value-log files
// taking disk bytes, in a store of keys keys, pays: until a later maintenance rewrites
// them (when their count has doubled, one a process), the files cost the processes up
// to about files² times a file's cost; the scan and the rewrite cost keys/fileCostKeys +
// disk/fileCostBytes times it. Fewer than at files never call for it.
func consolidationPays(files, at int, keys uint64, disk int64) bool {
	cost := keys/fileCostKeys + uint64(max(disk, 0))/fileCostBytes
	return files >= at && cost <= uint64(files)*uint64(files)
}

// consolidatedKey holds what the last consolidation left (consolidation).
var consolidatedKey = appendString([]byte{prefixMeta}, "value-log-consolidated")

// consolidation is what a consolidation left: the values the value log held live, up
// to version through, are in files numbered file or lower.
type consolidation struct{ through, file uint64 }

func (c consolidation) encode() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, c.through), c.file)
}

// lastConsolidation reads what the last consolidation left: zero if none ran, or if the
// record does not describe this store (damaged, or ahead of its versions or files), in
// which case the next consolidation considers every file and rewrites every value.
func (s *Store) lastConsolidation(newest uint64) (consolidation, error) {
	var c consolidation
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(consolidatedKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) == 16 {
				c = consolidation{through: binary.BigEndian.Uint64(v), file: binary.BigEndian.Uint64(v[8:])}
			}
			return nil
		})
	})
	if c.through > s.db.MaxVersion() || c.file > newest {
		c = consolidation{}
	}
	return c, err
}

// consolidateValueLog rewrites the live values of the value log written since the last
// consolidation, when consolidationPays and within the limits, and records what it did.
func (s *Store) consolidateValueLog(ctx context.Context) error {
	if err := s.consolidate(ctx); err != nil {
		return fmt.Errorf("consolidate the value log: %w", err)
	}
	return nil
}

// consolidate is consolidateValueLog, its errors not yet wrapped.
func (s *Store) consolidate(ctx context.Context) error {
	all, err := valueLogs(s.opts.Dir)
	if err != nil {
		return err
	}
	last, err := s.lastConsolidation(all.newest)
	if err != nil {
		return err
	}
	since := all.above(last.file)
	_, sealed := since.space()
	keys := keyCount(s.db)
	if !consolidationPays(since.count, cmp.Or(s.opts.collectValueLogsAt, valueLogsCollected), keys, sealed) {
		return nil
	}
	if keys <= maxConsolidationKeys && sealed <= maxConsolidationBytes {
		n, skipped, err := s.rewriteValueLogValues(ctx, last.through)
		if err != nil {
			return err
		}
		s.opts.Logger.Debug("rewrote the value log's live values", "values", n, "too_large", skipped,
			"files", since.count, "bytes", sealed, "keys", keys)
	}
	now, err := valueLogs(s.opts.Dir)
	if err != nil {
		return err
	}
	next := consolidation{through: s.db.MaxVersion(), file: now.newest}
	return s.submit(ctx, func(*badger.Txn) ([]write, error) {
		return []write{{key: consolidatedKey, value: next.encode()}}, nil
	})
}

// keyCount returns about how many keys db's tables hold (versions of a key counted
// apart, the memtables not counted).
func keyCount(db *badger.DB) uint64 {
	var n uint64
	for _, t := range db.Tables() {
		n += uint64(t.KeyCount)
	}
	return n
}

// rewriteValueLogValues rewrites, unchanged, every value Badger keeps in its value log
// with a version above after, in batches of half a transaction, and returns how many
// it rewrote and how many it skipped, too large for this store's transactions (written
// with a larger ValueLogFileSize).
func (s *Store) rewriteValueLogValues(ctx context.Context, after uint64) (rewrote, skipped int, err error) {
	var batch []write
	b := budget{s: s}
	flush := func() error {
		ws := batch
		batch, b = nil, budget{s: s}
		if len(ws) == 0 {
			return nil
		}
		return s.submit(ctx, func(*badger.Txn) ([]write, error) { return ws, nil })
	}
	// Not s.view: a commit too big for one transaction holds views off (bigwrite.go).
	err = eachValueLogValue(s.db, after, func(w write) error {
		if int64(len(w.value)) > s.c.maxValue {
			skipped++
			return nil
		}
		if b.full(w) {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, w)
		b.add(w)
		rewrote++
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return rewrote, skipped, fmt.Errorf("rewrite the values: %w", err)
	}
	return rewrote, skipped, nil
}
