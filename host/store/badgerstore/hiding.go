package badgerstore

import (
	"errors"
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
//   - Once it is released (its last commit made it whole, or undid every chunk), a
//     snapshot holds part of it exactly when it holds the marker of its first chunk:
//     the commit that makes it whole deletes every marker, and an undo deletes the first
//     chunk, with its marker, last. So a reader whose snapshot predates that commit
//     still skips its ids, however long the reader runs, and any later one sees the
//     whole submission or none of it.
//   - A released create is forgotten once no view that began before its release is
//     running (views are counted by epoch while creates are reserved: beginView). A view
//     that began while no create was reserved cannot hold a chunk of one.

// reservation is a chunked Create: its ids, hidden from readers (hidden).
type reservation struct {
	id       string         // the create's marker scope
	ids      map[string]int // the create's ids, by their place in the submission
	stored   int            // the tasks of the first stored ids may be stored: those are hidden
	released bool           // its last commit is done: hidden only from snapshots holding its first marker
	epoch    uint64         // the view epoch its release began (Store.viewEpoch)
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
	for e := range s.viewsIn {
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

// hidden reports whether id belongs to a chunked create that txn may see part of: one in
// progress, or one released after txn's snapshot was taken.
func (s *Store) hidden(txn *badger.Txn, id string) bool {
	if s.hiding.Load() == 0 {
		return false
	}
	s.hideMu.RLock()
	defer s.hideMu.RUnlock()
	for _, r := range s.reservations {
		if i, ok := r.ids[id]; ok && i < r.stored && (!r.released || partIn(txn, r)) {
			return true
		}
	}
	return false
}

// partIn reports whether txn's snapshot holds part of the released create r: its first
// chunk's marker. A failed read counts as part: the id stays hidden.
func partIn(txn *badger.Txn, r *reservation) bool {
	_, err := txn.Get(markerKey(r.id, 0))
	return !errors.Is(err, badger.ErrKeyNotFound)
}

// beginView begins a read-only transaction and, while creates are reserved, counts it
// under the current epoch, so that no create it may see part of is forgotten before
// endView. Reservations wait for the transaction to begin: one that began with none
// reserved cannot hold a chunk of a create.
func (s *Store) beginView() (txn *badger.Txn, epoch uint64, counted bool) {
	s.hideMu.RLock()
	defer s.hideMu.RUnlock()
	txn = s.db.NewTransaction(false)
	if s.hiding.Load() == 0 {
		return txn, 0, false
	}
	s.viewMu.Lock()
	defer s.viewMu.Unlock()
	epoch = s.viewEpoch
	if s.viewsIn == nil {
		s.viewsIn = map[uint64]int{}
	}
	s.viewsIn[epoch]++
	return txn, epoch, true
}

// endView discards the transaction of a view and ends its count, forgetting the
// released creates only it could see part of.
func (s *Store) endView(txn *badger.Txn, epoch uint64, counted bool) {
	txn.Discard()
	if !counted {
		return
	}
	s.viewMu.Lock()
	if s.viewsIn[epoch]--; s.viewsIn[epoch] == 0 {
		delete(s.viewsIn, epoch)
	}
	s.viewMu.Unlock()
	if s.released.Load() > 0 {
		s.hideMu.Lock()
		s.forgetReleased()
		s.hideMu.Unlock()
	}
}
