package badgerstore

import (
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/apflow-wasm/apflow/host/store"
)

// A chunked Create (create.go) commits its chunks one transaction at a time and is
// visible only once whole: its ids are reserved in memory, and every read skips the
// tasks it stored (hidden) for as long as a reader's snapshot may hold part of it.
//
//   - While the create is in progress, another create of one of its ids fails (reserved),
//     and its tasks are hidden from everyone as their chunks commit: reads do not see
//     them, and writes to them fail. A chunk's tasks are hidden before it commits, once
//     the committer has checked that none of their ids is stored: a stored task whose id
//     the create repeats (and on which it fails) stays in sight.
//   - Only a view that began after the create was reserved may hold part of it (its
//     chunks commit after); one that began before sees the store as it was, also a task
//     deleted since whose id the create stores again. Once the create is released (its
//     last commit made it whole, or undid every chunk), its tasks stay hidden from the
//     views that began between its reservation and its release, however long they run:
//     such a view skipped them before, and may hold part of the create. A view that
//     began after the release holds all of it or none of it, and sees it; so does the
//     committer, whose transactions begin after the commits before them (while the
//     create is in progress, its writes to the create's tasks fail: hiddenFromWrites).
//     Views are known by the epoch they began in (beginView), which each reservation and
//     each release advance; a view that began while no create was reserved is not
//     counted, and nothing is hidden from it.
//   - A released create is forgotten once no view that began before its release is
//     running.

// reservation is a chunked Create: its ids, hidden from readers (hidden).
type reservation struct {
	id       string         // the create's marker scope
	ids      map[string]int // the create's ids, by their place in the submission
	stored   int            // the tasks of the first stored ids may be stored: those are hidden
	released bool           // its last commit is done: hidden only from views that began before
	since    uint64         // the view epoch its reservation began (Store.viewEpoch)
	epoch    uint64         // the view epoch its release began
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
	s.viewMu.Lock()
	s.viewEpoch++
	r.since = s.viewEpoch
	s.viewMu.Unlock()
	s.reservations = append(s.reservations, r)
	s.hiding.Store(int64(len(s.reservations)))
	return nil
}

// hideStored hides the tasks of r's first n ids: a chunk holding their stored values is
// about to commit.
func (s *Store) hideStored(r *reservation, n int) {
	s.hideMu.Lock()
	defer s.hideMu.Unlock()
	r.stored = max(r.stored, n)
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
// it, and txn began after its reservation and before its release (if any). It is false
// for a transaction that is not a counted view (the committer's: hiddenFromWrites).
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
		if i, ok := r.ids[id]; ok && i < r.stored && e >= r.since && (!r.released || e < r.epoch) {
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
		if i, ok := r.ids[id]; ok && i < r.stored && !r.released {
			return true
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
