package submit

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/schedule"
	"github.com/apflow-wasm/apflow/host/task"
)

// Tree is a validated submission whose tasks are built when read: it holds the specs as
// decoded and what validation resolved (ids, parents, dependencies), about half the
// memory of the tasks, and builds a new *task.Task at each call of Task. It is a
// store.Batch: apflow run stores it with store.CreateBatch and starts its run from it
// (engine.RunOptions.Created), so that a large tree is never held whole as tasks.
//
// The tasks built for one index are equal: same ids, same created_at, the same Inputs,
// Params and Schemas maps (shared, never to be modified in place; see [Validate]). A
// Tree is safe for concurrent reads.
type Tree struct {
	specs       []*Spec
	ids         []string
	parent      []int   // index of the parent, -1 for the root
	deps        [][]dep // resolved, deduplicated dependencies
	hasChildren []bool
	root        int
	treeID      string
	userID      string
	now         time.Time
}

// Len implements store.Batch: the number of tasks.
func (t *Tree) Len() int { return len(t.specs) }

// RootID is the id of the tree's root task.
func (t *Tree) RootID() string { return t.ids[t.root] }

// TreeID is the tree id of its tasks (task.Task.TreeID).
func (t *Tree) TreeID() string { return t.treeID }

// Task implements store.Batch: the task at index i (its seq), built anew. See
// [Validate] for what its fields hold.
func (t *Tree) Task(i int) *task.Task {
	s := t.specs[i]
	tk := &task.Task{
		ID: t.ids[i], TaskTreeID: t.treeID, UserID: t.userID, Name: s.Name,
		Status: task.Pending, Priority: task.DefaultPriority,
		Inputs: s.Inputs, Params: s.Params, Schemas: s.Schemas,
		CreatedAt: t.now, UpdatedAt: t.now, OriginType: task.OriginCreate,
		Limits: s.Limits, Seq: i, HasChildren: t.hasChildren[i],
	}
	s.setSchedule(tk)
	if tk.Inputs == nil {
		tk.Inputs = map[string]any{}
	}
	if s.Priority != nil {
		tk.Priority = *s.Priority
	}
	if p := t.parent[i]; p >= 0 {
		tk.ParentID = t.ids[p]
	}
	// The expression and zone were checked when decoding: this cannot fail.
	tk.NextRunAt, _ = schedule.NextRun(tk, t.now)
	tk.Dependencies = t.dependencies(i)
	return tk
}

// dependencies builds the dependencies of task i from its resolved ones, whose keys
// tree settled (settleInjectKeys).
func (t *Tree) dependencies(i int) []task.Dependency {
	deps := make([]task.Dependency, len(t.deps[i]))
	for k, d := range t.deps[i] {
		deps[k] = task.Dependency{ID: t.ids[d.to], Required: d.required, Key: d.key}
	}
	return deps
}

// settleInjectKeys checks that no two dependencies of task i are injected under one key
// (sharedInjectKey), and keeps the keys it settles: a derived key that another
// dependency's result takes is dropped. Task then builds the dependencies as settled.
func (t *Tree) settleInjectKeys(i int) *apferr.Problem {
	if len(t.deps[i]) < 2 { // no key to share
		return nil
	}
	deps := t.dependencies(i)
	if p := sharedInjectKey(t.specs[i], deps, t.deps[i]); p != nil {
		return p
	}
	for k := range deps {
		t.deps[i][k].key = deps[k].Key
	}
	return nil
}

// tree turns the validated specs into a Tree: ids generated where absent, the last
// problems checked (a generated id too long, two dependencies injected under one key).
func (v *validator) tree() (*Tree, error) {
	ids, err := v.assignIDs()
	if err != nil {
		return nil, err
	}
	packIDs(ids)
	t := &Tree{specs: v.specs, ids: ids, parent: v.parent, deps: v.deps,
		hasChildren: make([]bool, len(v.specs)), userID: v.userID,
		now: v.opts.Now().UTC().Truncate(time.Microsecond)}
	for i := range v.specs {
		if v.parent[i] == -1 {
			t.root = i
			break
		}
	}
	for i := range v.specs {
		if p := v.parent[i]; p >= 0 {
			t.hasChildren[p] = true
		}
	}
	t.treeID = v.specs[t.root].TreeID
	if t.treeID == "" || v.opts.LocalIDs {
		t.treeID = ids[t.root]
	}
	var probs []apferr.Problem
	for i := range v.specs {
		if p := t.settleInjectKeys(i); p != nil {
			probs = append(probs, *p)
		}
	}
	if len(probs) > 0 {
		return nil, apferr.Problems(probs)
	}
	return t, nil
}

// packBytes bounds the strings packIDs makes: one id kept after its run (a cached
// task's) keeps at most that much alive, besides itself.
const packBytes = 2 << 10

// packIDs makes ids share backing strings, consecutive ids up to packBytes each (56 of
// the UUIDs the host generates; an id longer than that is left as it is). A run keeps the
// ids of its tree for as long as it lasts, and the garbage collector marks every object
// it holds at each cycle: a million ids allocated one by one were a million objects, as
// many as the run's own nodes, and took as long to mark (docs/performance.md,
// thirty-first pass).
func packIDs(ids []string) {
	for from := 0; from < len(ids); {
		to, n := from, 0
		for to < len(ids) && n+len(ids[to]) <= packBytes {
			n += len(ids[to])
			to++
		}
		if to-from < 2 {
			from = max(to, from+1)
			continue
		}
		joined := strings.Join(ids[from:to], "")
		for off := 0; from < to; from++ {
			n := len(ids[from])
			ids[from], off = joined[off:off+n], off+n
		}
	}
}

// assignIDs returns the id of each task: the given one (unless Options.LocalIDs), else
// a new one (Options.NewID, qualified by the namespace).
func (v *validator) assignIDs() ([]string, error) {
	ids := make([]string, len(v.specs))
	used := make(map[string]bool, len(v.specs))
	for i, s := range v.specs {
		if s.ID != "" && !v.opts.LocalIDs {
			ids[i] = s.ID
			used[s.ID] = true
		}
	}
	for i := range v.specs {
		if ids[i] != "" {
			continue
		}
		for try := 0; ; try++ {
			if try == 10 {
				return nil, apferr.New(apferr.Internal, "cannot generate a unique task id: Options.NewID keeps returning used ids")
			}
			if id := v.opts.Namespace.Qualify(v.opts.NewID()); id != "" && !used[id] {
				ids[i] = id
				used[id] = true
				break
			}
		}
		if n := utf8.RuneCountInString(ids[i]); n > MaxIDLen {
			p := taskProblem(v.specs[i], "id", "the generated id is "+idTooLong(ids[i], v.opts.Namespace))
			p.Code, p.Expected, p.Actual = apferr.InvalidParams, fmt.Sprintf("at most %d characters", MaxIDLen), n
			return nil, apferr.Problems([]apferr.Problem{p})
		}
	}
	return ids, nil
}
