package memstore

import (
	"cmp"
	"slices"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/task"
)

// state is the stored tasks and their secondary indexes. Stored tasks are shared between
// the state and the readers copying them, and never modified: a write replaces them.
type state struct {
	tasks    map[string]*task.Task
	roots    set
	byStatus index                     // status → tasks
	byUser   index                     // user → tasks that have one
	byTree   index                     // tree → tasks that have one
	byParent index                     // parent → children
	byDep    index                     // dependency id → dependents
	keys     map[keyID]store.KeyRecord // idempotency keys
	sched    set                       // tasks with a schedule_type (schedules.go)
}

// keyID is the identity of an idempotency key: scope and key.
type keyID struct{ scope, key string }

type set map[string]struct{}

// index maps a key to the ids of the tasks filed under it. Empty sets are removed.
type index map[string]set

func (x index) add(key, id string) {
	s := x[key]
	if s == nil {
		s = set{}
		x[key] = s
	}
	s[id] = struct{}{}
}

func (x index) remove(key, id string) {
	if s := x[key]; s != nil {
		delete(s, id)
		if len(s) == 0 {
			delete(x, key)
		}
	}
}

func newState() state {
	return state{tasks: map[string]*task.Task{}, roots: set{}, byStatus: index{},
		byUser: index{}, byTree: index{}, byParent: index{}, byDep: index{}, keys: map[keyID]store.KeyRecord{}, sched: set{}}
}

// file adds (or, with add false, removes) the index entries of t: by status, user and
// tree (when set), parent (roots apart) and every dependency id.
func (st *state) file(t *task.Task, add bool) {
	put := index.remove
	if add {
		put = index.add
	}
	put(st.byStatus, string(t.Status), t.ID)
	if t.UserID != "" {
		put(st.byUser, t.UserID, t.ID)
	}
	if t.TaskTreeID != "" {
		put(st.byTree, t.TaskTreeID, t.ID)
	}
	if t.ParentID == "" {
		if add {
			st.roots[t.ID] = struct{}{}
		} else {
			delete(st.roots, t.ID)
		}
	} else {
		put(st.byParent, t.ParentID, t.ID)
	}
	for _, d := range t.Dependencies {
		put(st.byDep, d.ID, t.ID)
	}
	st.fileSchedule(t, add)
}

// add stores t, which must not be stored yet.
func (st *state) add(t *task.Task) {
	st.tasks[t.ID] = t
	st.file(t, true)
}

// remove deletes task id and its index entries, if it is stored.
func (st *state) remove(id string) {
	if t := st.tasks[id]; t != nil {
		st.file(t, false)
		delete(st.tasks, id)
	}
}

// members returns the stored tasks whose ids are in s (shared: not to be modified).
func (st *state) members(s set) []*task.Task {
	out := make([]*task.Task, 0, len(s))
	for id := range s {
		out = append(out, st.tasks[id])
	}
	return out
}

// candidates returns the tasks of the narrowest index that f allows (all tasks match f
// or are filtered out by matches).
func (st *state) candidates(f store.Filter) []*task.Task {
	switch {
	case f.ParentID != "":
		return st.members(st.byParent[f.ParentID])
	case f.TreeID != "":
		return st.members(st.byTree[f.TreeID])
	case f.UserID != "":
		return st.members(st.byUser[f.UserID])
	case f.Status != "":
		return st.members(st.byStatus[string(f.Status)])
	case f.RootOnly:
		return st.members(st.roots)
	default:
		out := make([]*task.Task, 0, len(st.tasks))
		for _, t := range st.tasks {
			out = append(out, t)
		}
		return out
	}
}

func matches(f store.Filter, t *task.Task) bool {
	return (f.Status == "" || t.Status == f.Status) &&
		(f.UserID == "" || t.UserID == f.UserID) &&
		(f.TreeID == "" || t.TaskTreeID == f.TreeID) &&
		(f.ParentID == "" || t.ParentID == f.ParentID) &&
		(!f.RootOnly || t.ParentID == "") &&
		f.MatchesCreated(created(t)) &&
		f.MatchesTask(t)
}

// created is created_at as List orders it: Unix microseconds, 0 for the zero time.
func created(t *task.Task) int64 {
	if t.CreatedAt.IsZero() {
		return 0
	}
	return t.CreatedAt.UnixMicro()
}

// newest orders List: created_at, then seq, descending, then id ascending.
func newest(a, b *task.Task) int {
	if c := cmp.Compare(created(b), created(a)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Seq, a.Seq); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// byPriority orders Children: priority, then submission order, then id.
func byPriority(a, b *task.Task) int {
	if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
		return c
	}
	return store.SubmissionOrder(a, b)
}

// sorted sorts ts by order and returns it.
func sorted(ts []*task.Task, order func(a, b *task.Task) int) []*task.Task {
	slices.SortFunc(ts, order)
	return ts
}
