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
//     and the committer's writes to the tasks it stored fail (hiddenFromWrites). A
//     chunk's tasks count as stored from just before it commits, once the committer has
//     checked that none of their ids is stored: a stored task whose id the create
//     repeats (and on which it fails) stays in sight.
//   - A chunk's tasks are hidden from the views that began after the chunk was checked
//     (hideStored) and before the create's release, however long they run: only such a
//     view may hold the chunk without the rest, and it skipped them before. A view that
//     began before the chunk holds none of it, and sees the store as it was, also a task
//     deleted since whose id the chunk stores again; one that began after the release
//     holds all of the create or none of it, and sees it. The committer, whose
//     transactions begin after the commits before them, is not a view. Views are known by
//     the epoch they began in (beginView), which each chunk and each release advance; a
//     view that began while no create was reserved is not counted, and nothing is hidden
//     from it.
//   - A released create is forgotten once no view that began before its release is
//     running.

// reservation is a chunked Create: its ids, hidden from readers (hidden).
type reservation struct {
	id       string         // the create's marker scope
	ids      map[string]int // the create's ids, by their place in the submission
	chunks   []storedUpTo   // its chunks checked, in order (hideStored)
	released bool           // its last commit is done: hidden only from views that began before
	epoch    uint64         // the view epoch its release began (Store.viewEpoch)
}

// storedUpTo is a chunk of a create: the tasks at places below n may be stored from the
// view epoch epoch on.
type storedUpTo struct {
	n     int
	epoch uint64
}

// storedSince returns the view epoch from which the task at place i may be stored, and
// false when no chunk checked holds it yet.
func (r *reservation) storedSince(i int) (uint64, bool) {
	k := sort.Search(len(r.chunks), func(k int) bool { return r.chunks[k].n > i })
	if k == len(r.chunks) {
		return 0, false
	}
	return r.chunks[k].epoch, true
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

// hideStored hides the tasks of r's first n ids from the views that begin from now on: a
// chunk holding their stored values is about to commit.
func (s *Store) hideStored(r *reservation, n int) {
	s.hideMu.Lock()
	defer s.hideMu.Unlock()
	if len(r.chunks) > 0 && r.chunks[len(r.chunks)-1].n >= n {
		return
	}
	s.viewMu.Lock()
	s.viewEpoch++
	r.chunks = append(r.chunks, storedUpTo{n: n, epoch: s.viewEpoch})
	s.viewMu.Unlock()
}

// reserved reports whether id is an id of a chunked create in progress.
func (s *Store) reserved(id string) bool {
	if s.hiding.Load() == 0 {
		return false
	}
	s.hideMu.RLock()
	defer s.hideMu.RUnlock()
	for _, r := range s.reservations {
		if _, ok := r.ids[id]; ok && !r.released {
			return true
		}
	}
	return false
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

// hidden reports whether the view txn must not see the task id: a chunked create stored
// it, and txn began after the chunk holding it was checked and before the create's
// release (if any). It is false for a transaction that is not a counted view (the
// committer's: hiddenFromWrites).
func (s *Store) hidden(txn *badger.Txn, id string) bool {
	if s.hiding.Load() == 0 {
		return false
	}
	s.hideMu.RLock()
	defer s.hideMu.RUnlock()
	s.viewMu.Lock()
	e, counted := s.viewsAt[txn]
	s.viewMu.Unlock()
	if !counted {
		return false
	}
	for _, r := range s.reservations {
		i, ok := r.ids[id]
		if !ok {
			continue
		}
		if since, stored := r.storedSince(i); stored && e >= since && (!r.released || e < r.epoch) {
			return true
		}
	}
	return false
}

// hiddenFromWrites reports whether id is the id of a task a chunked create in progress
// stored: the committer's writes to it fail as to a task that does not exist.
func (s *Store) hiddenFromWrites(id string) bool {
	if s.hiding.Load() == 0 {
		return false
	}
	s.hideMu.RLock()
	defer s.hideMu.RUnlock()
	for _, r := range s.reservations {
		if i, ok := r.ids[id]; ok && !r.released {
			if _, stored := r.storedSince(i); stored {
				return true
			}
		}
	}
	return false
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
