package badgerstore

import (
	"math"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
)

// A chunked Create (create.go) commits its chunks one transaction at a time and is
// visible only once whole: its ids are reserved in memory, and every read skips the
// tasks it stored (hidden) for as long as a reader's snapshot may hold part of it.
//
//   - While the create is in progress, another create of one of its ids fails (reserved),
//     and the committer's writes to the tasks it stored fail (hiddenFromWrites). A Delete
//     of a task the create gives a child or a dependent is refused, naming it: it would
//     leave the create's task without its parent or dependency. A chunk's tasks count as
//     stored from just before it commits, once the committer has checked that none of
//     their ids is stored: a stored task whose id the create repeats (and on which it
//     fails) stays in sight.
//   - A chunk's tasks are hidden from the views whose snapshot holds the chunk and that
//     began before the create's release, however long they run: only such a view may
//     hold the chunk without the rest, and it skipped them before. A snapshot holds the
//     chunk when it is later than the snapshot of the committer's transaction that
//     checked it (hideStored): the committer is the store's only writer, and commits one
//     transaction at a time. A view whose snapshot is not later holds none of the
//     chunk, and sees the store as it was, also a task deleted since (even in the
//     chunk's own transaction) whose id the chunk stores again; one that began after the
//     release holds all of the create or none of it, and sees it. Views are known by the
//     epoch they began in (beginView), which each release advances; a view that began
//     while no create was reserved is not counted. The committer is not a view.
//   - A released create is forgotten once no view that began before its release is
//     running.

// reservation is a chunked Create: its ids, hidden from readers (hidden).
type reservation struct {
	id       string         // the create's marker scope
	ids      map[string]int // the create's ids, by their place in the submission
	chunks   []storedUpTo   // its chunks checked, in order, one each (hideStored)
	released bool           // its last commit is done: hidden only from views that began before
	epoch    uint64         // the view epoch its release began (Store.viewEpoch)
}

// storedUpTo is a chunk of a create: the tasks at places below n are stored in snapshots
// later than readTs, the snapshot of the transaction that checked the chunk.
type storedUpTo struct {
	n      int
	readTs uint64
}

// storedAfter returns the snapshot after which the task at place i may be stored, and
// false when no chunk checked holds it yet.
func (r *reservation) storedAfter(i int) (uint64, bool) {
	k := sort.Search(len(r.chunks), func(k int) bool { return r.chunks[k].n > i })
	if k == len(r.chunks) {
		return 0, false
	}
	return r.chunks[k].readTs, true
}

// reserve hides ids, the ids of r, or fails with Exists when a create in progress
// reserved one of them already.
func (s *Store) reserve(r *reservation, ids []string) error {
	s.hideMu.Lock()
	defer s.hideMu.Unlock()
	for _, o := range s.reservations {
		if o.released {
			continue
		}
		for _, id := range ids {
			if _, ok := o.ids[id]; ok {
				return store.Exists(id)
			}
		}
	}
	r.ids = make(map[string]int, len(ids))
	for i, id := range ids {
		r.ids[id] = i
	}
	s.reservations = append(s.reservations, r)
	s.hiding.Store(int64(len(s.reservations)))
	return nil
}

// hideStored hides the tasks of r's first n ids from the views whose snapshot is later
// than txn's: txn, a transaction of the committer, holds a chunk storing them, and is
// about to commit.
func (s *Store) hideStored(r *reservation, n int, txn *badger.Txn) {
	s.hideMu.Lock()
	defer s.hideMu.Unlock()
	r.chunks = append(r.chunks, storedUpTo{n: n, readTs: txn.ReadTs()}) // one a chunk, also one of index entries only
}

// unhideFrom forgets the chunks of r from the k-th on: they were checked but not stored.
func (s *Store) unhideFrom(r *reservation, k int) {
	s.hideMu.Lock()
	defer s.hideMu.Unlock()
	if k < len(r.chunks) {
		r.chunks = r.chunks[:k]
	}
}

// inProgress reports whether a chunked create in progress reserved id, and whether one
// of its chunks checked so far stores it.
func (s *Store) inProgress(id string) (reserved, stored bool) {
	if s.hiding.Load() == 0 {
		return false, false
	}
	s.hideMu.RLock()
	defer s.hideMu.RUnlock()
	for _, r := range s.reservations {
		if i, ok := r.ids[id]; ok && !r.released {
			_, stored = r.storedAfter(i)
			return true, stored
		}
	}
	return false, false
}

// reserved reports whether id is an id of a chunked create in progress.
func (s *Store) reserved(id string) bool {
	r, _ := s.inProgress(id)
	return r
}

// release ends r's reservation, after its last commit: its ids stay hidden from the
// views already running whose snapshot holds part of it, and r is forgotten once those
// have ended.
func (s *Store) release(r *reservation) {
	s.hideMu.Lock()
	defer s.hideMu.Unlock()
	s.viewMu.Lock()
	s.viewEpoch++
	r.released, r.epoch = true, s.viewEpoch
	s.viewMu.Unlock()
	s.released.Add(1)
	s.forgetReleased()
}

// forgetReleased drops the released reservations that no running view may see part of.
// s.hideMu must be held.
func (s *Store) forgetReleased() {
	s.viewMu.Lock()
	oldest := uint64(math.MaxUint64)
	for _, e := range s.viewsAt {
		oldest = min(oldest, e)
	}
	s.viewMu.Unlock()
	kept := s.reservations[:0]
	for _, r := range s.reservations {
		if r.released && r.epoch <= oldest {
			s.released.Add(-1)
			continue
		}
		kept = append(kept, r)
	}
	clear(s.reservations[len(kept):]) // a forgotten reservation's ids go with it
	s.reservations = kept
	s.hiding.Store(int64(len(kept)))
}

// hidden reports whether txn must not see the task id: a chunked create stored it, txn's
// snapshot holds the chunk, and the create is in progress or txn is a view that began
// before its release.
func (s *Store) hidden(txn *badger.Txn, id string) bool {
	if s.hiding.Load() == 0 {
		return false
	}
	s.hideMu.RLock()
	defer s.hideMu.RUnlock()
	for _, r := range s.reservations {
		i, ok := r.ids[id]
		if !ok {
			continue
		}
		after, stored := r.storedAfter(i)
		if !stored || txn.ReadTs() <= after {
			continue
		}
		if !r.released || s.viewBefore(txn, r.epoch) {
			return true
		}
	}
	return false
}

// viewBefore reports whether txn is a counted view that began before epoch.
func (s *Store) viewBefore(txn *badger.Txn, epoch uint64) bool {
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	e, ok := s.viewsAt[txn]
	return ok && e < epoch
}

// hiddenFromWrites reports whether id is the id of a task a chunked create in progress
// stored: the committer's writes to it fail as to a task that does not exist.
func (s *Store) hiddenFromWrites(id string) bool {
	_, stored := s.inProgress(id)
	return stored
}

// beginView begins a read-only transaction and, while creates are reserved, counts it
// under the current epoch, so that hidden knows which releases came after it and no
// create it may see part of is forgotten before endView. Reservations wait for the
// transaction to begin: one that began with none reserved cannot hold a chunk of a
// create.
func (s *Store) beginView() (txn *badger.Txn, counted bool) {
	s.hideMu.RLock()
	defer s.hideMu.RUnlock()
	txn = s.db.NewTransaction(false)
	if s.hiding.Load() == 0 {
		return txn, false
	}
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	if s.viewsAt == nil {
		s.viewsAt = map[*badger.Txn]uint64{}
	}
	s.viewsAt[txn] = s.viewEpoch
	return txn, true
}

// endView discards the transaction of a view and ends its count, forgetting the
// released creates only it could see part of.
func (s *Store) endView(txn *badger.Txn, counted bool) {
	txn.Discard()
	if !counted {
		return
	}
	s.viewMu.Lock()
	delete(s.viewsAt, txn)
	s.viewMu.Unlock()
	if s.released.Load() > 0 {
		s.hideMu.Lock()
		s.forgetReleased()
		s.hideMu.Unlock()
	}
}
