package engine

import (
	"unsafe"

	"github.com/apflow-wasm/apflow/host/task"
)

// nodeState is where a task stands in the current run.
type nodeState uint8

const (
	stOut     nodeState = iota // not part of this run (TaskID runs): never started
	stIdle                     // pending, waiting for dependencies
	stHeld                     // dependency-free root, held until nothing else can progress (docs/semantics.md rule 10)
	stReady                    // on the ready heap
	stRunning                  // in_progress committed, executor running
	stPosting                  // completed and committed, post-hooks running; dependents not released
	stDone                     // terminal (completed, failed, cancelled) and settled
	stBlocked                  // pending with the blocked marker, settled as blocked
	stWaiting                  // pending after a failed attempt, until its next one is due (retry.go)
)

// node is one task of the run's tree.
type node struct {
	// t is the whole task as last written, when the node keeps it (snapshot.go), else
	// nil; v is the node's view of it, always current. Both are owned by the coordinator.
	t          *task.Task
	v          view
	deps       []int32 // parallel to v.deps; -1 when the id is not in the tree
	dependents []edge  // the tasks that depend on this one, one entry per dependency item
	waiting    int32   // dependencies not yet settled
	state      nodeState
	// inflight is true from dispatch until the worker's outcome comes back, even when the
	// task was cancelled meanwhile (its goroutine still holds a slot and a handle).
	inflight  bool
	cancelled bool   // cancelled by the user while running: the late outcome is discarded
	cancel    func() // cancels the executor's context while running
	// local is set (cluster mode) while the coordinator's own node executes the task,
	// claimed in the round that started it; token is that claim's, once committed.
	local bool
	token int64
	// unannounced is set (cluster mode) on a task a resumed run found terminal when it
	// loaded the tree: if its settled-feed entry is still there, the coordinator that
	// died never told its subscribers, and this one does (onSettled).
	unannounced bool
	// uncommitted is set on a parked node (stWaiting) until the write of its wait is
	// committed: it is not released before (park.go).
	uncommitted bool
	// dirty is needsReset of the task as loaded (graph.resetSet), since the run keeps
	// only a view of it (snapshot.go).
	dirty bool
}

// edge is one dependency item seen from the dependency: task node lists the dependency
// at index k of its dependencies. Settling a dependency touches each item once, so a
// fan-in of k dependencies costs O(k), not O(k²).
type edge struct {
	node int32
	k    int32
}

// graph indexes the tasks of one tree.
type graph struct {
	nodes []*node
	// block is what is left of the array the next nodes are taken from (newNode).
	block []node
	ids   idIndex
	root  int32 // -1 when the tree has no root
	// methods holds one copy of each executor id of the views (graph.see).
	methods map[string]string
}

func newGraph(tasks []*task.Task) *graph {
	g := &graph{nodes: make([]*node, 0, len(tasks)), ids: newIDIndex(len(tasks)), root: -1}
	for _, t := range tasks {
		g.add(t)
	}
	g.link()
	return g
}

// add appends the node of t (the next task of the tree in submission order), keeping t
// whole and its view with its result, and returns it; link resolves the dependencies
// once every task is added.
func (g *graph) add(t *task.Task) *node {
	i := int32(len(g.nodes))
	n := g.newNode()
	n.t, n.dirty = t, needsReset(t)
	g.see(n, t, true)
	g.nodes = append(g.nodes, n)
	g.indexAs(t.ID, i)
	if t.ParentID == "" && g.root < 0 {
		g.root = i
	}
	return n
}

// maxNodeBlock is the number of nodes of the largest array newNode allocates: as many
// as fit in the largest size class of the Go allocator's small objects, 32 KiB (136
// nodes of 240 bytes leave 128 of it); a larger array would take whole pages.
const maxNodeBlock = 32 << 10 / unsafe.Sizeof(node{})

// newNode returns a new zero node. Nodes are allocated in arrays of up to maxNodeBlock,
// so that a tree of a million tasks is a few thousand objects to the garbage collector,
// which marks every object of the graph at each cycle for as long as the run lasts,
// instead of a million. An array holds as many nodes as g.nodes has room for (a graph
// made for a tree of known size has it for them all), or as it holds when it has none:
// a graph of the size expected wastes none, any other less than it holds. A node keeps
// the array it is in alive: the graph holds them all anyway.
func (g *graph) newNode() *node {
	if len(g.block) == 0 {
		n := cap(g.nodes) - len(g.nodes)
		if n == 0 {
			n = max(len(g.nodes), 1)
		}
		g.block = make([]node, min(n, int(maxNodeBlock)))
	}
	n := &g.block[0]
	g.block = g.block[1:]
	return n
}

// link indexes the dependencies of every node and their dependents, and shares each
// parent's id string with its children's views.
func (g *graph) link() {
	for i, n := range g.nodes {
		n.v.parentID = g.parentID(n.v.parentID)
		n.deps = make([]int32, len(n.v.deps))
		for k, d := range n.v.deps {
			j, ok := g.lookup(d.ID)
			if !ok {
				n.deps[k] = -1
				continue
			}
			n.deps[k] = j
			g.nodes[j].dependents = append(g.nodes[j].dependents, edge{node: int32(i), k: int32(k)})
		}
	}
}

// scopeAll marks every task of the tree as part of the run.
func (g *graph) scopeAll() []bool {
	s := make([]bool, len(g.nodes))
	for i := range s {
		s[i] = true
	}
	return s
}

// scopeFor returns the minimal part of the tree needed to run task i (docs/semantics.md rule 15): i,
// its transitive dependencies, and the ancestors of those. An ancestor whose own
// dependencies are outside the scope and unfinished does not run (see coordinator.init).
// Iterative: deep chains do not recurse.
func (g *graph) scopeFor(i int32) []bool {
	s := make([]bool, len(g.nodes))
	stack := []int32{i}
	s[i] = true
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, k := range g.nodes[j].deps {
			if k >= 0 && !s[k] {
				s[k] = true
				stack = append(stack, k)
			}
		}
	}
	// Ancestors of everything needed run too when they can (their own dependencies are
	// not pulled in).
	for j := range g.nodes {
		if !s[j] {
			continue
		}
		for p, ok := g.lookup(g.nodes[j].v.parentID); ok && g.nodes[j].v.parentID != "" && !s[p]; p, ok = g.lookup(g.nodes[p].v.parentID) {
			s[p] = true
			if g.nodes[p].v.parentID == "" {
				break
			}
		}
	}
	return s
}

// resetSet returns the tasks of the scope to put back to pending before a run (docs/semantics.md rule 15):
// failed, cancelled, blocked and orphaned in_progress tasks, completed ones too when full,
// the explicitly requested target when terminal, and everything downstream of those
// and of the pending tasks (one reset by tasks.update, say: what its dependents did with
// its old result is stale) inside the scope. target is -1 for a whole-tree run. With resume only orphaned
// in_progress tasks are reset (crash recovery continues the interrupted run).
//
// Frozen tasks (links and archives, docs/semantics.md rule 16) are never in the set, even
// as the target or downstream of a reset task; the walk still continues through them to
// their dependents.
func (g *graph) resetSet(scope []bool, full, resume bool, target int32) []int32 {
	in := make([]bool, len(g.nodes))
	var stack []int32
	for i, n := range g.nodes {
		if !scope[i] {
			continue
		}
		if n.v.frozen {
			continue
		}
		st := n.v.status
		seed := st == task.InProgress
		if !resume {
			seed = seed || st == task.Failed || st == task.Cancelled || st == task.Pending ||
				(full && st == task.Completed) || (int32(i) == target && st.Terminal())
		}
		if seed {
			in[i] = true
			stack = append(stack, int32(i))
		}
	}
	if !resume {
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, e := range g.nodes[j].dependents {
				if d := e.node; scope[d] && !in[d] {
					in[d] = true
					stack = append(stack, d)
				}
			}
		}
	}
	var out []int32
	for i, n := range g.nodes {
		if in[i] && !n.v.frozen && n.dirty {
			out = append(out, int32(i))
		}
	}
	return out
}

// needsReset reports whether resetting t to pending would change it.
func needsReset(t *task.Task) bool {
	return t.Status != task.Pending || t.Error != "" || t.Result != nil || t.Progress != 0 ||
		!t.StartedAt.IsZero() || !t.CompletedAt.IsZero()
}
