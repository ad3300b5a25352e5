package engine

import "container/heap"

// readyQueue orders ready tasks: priority ascending (0 first), then submission order
// (task.Seq), then position in the tree. Entries whose node left the ready state (a
// cancel) are skipped when popped.
type readyQueue struct {
	g     *graph
	items []int32
}

func (q *readyQueue) Len() int           { return len(q.items) }
func (q *readyQueue) Less(i, j int) bool { return q.before(q.items[i], q.items[j]) }

// before reports whether node i starts before node j when both are ready.
func (q *readyQueue) before(i, j int32) bool {
	a, b := &q.g.nodes[i].v, &q.g.nodes[j].v
	if a.priority != b.priority {
		return a.priority < b.priority
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return i < j
}
func (q *readyQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *readyQueue) Push(x any)    { q.items = append(q.items, x.(int32)) }
func (q *readyQueue) Pop() any {
	n := len(q.items)
	x := q.items[n-1]
	q.items = q.items[:n-1]
	return x
}

func (q *readyQueue) push(i int32) { heap.Push(q, i) }

// pop returns the next node that is still ready, or -1.
func (q *readyQueue) pop() int32 {
	for q.Len() > 0 {
		i := heap.Pop(q).(int32)
		if q.g.nodes[i].state == stReady {
			return i
		}
	}
	return -1
}

// peek reports whether a ready node is queued, discarding stale entries.
func (q *readyQueue) ready() bool {
	for q.Len() > 0 {
		if q.g.nodes[q.items[0]].state == stReady {
			return true
		}
		heap.Pop(q)
	}
	return false
}

// queuedTasks holds the run's tasks queued for claiming in a cluster, or claimed by any
// node's claimer (the coordinator cannot tell the two apart until they settle), in the
// ready queue's order. Entries whose node is no longer in flight that way are dropped
// lazily.
type queuedTasks struct{ q readyQueue }

func (r *queuedTasks) push(i int32) { r.q.push(i) }

// ahead reports whether a queued (or claimed, not yet settled) task orders before node
// i: then i must be queued behind it rather than started at once on the coordinator's
// node, or a slot freed here would go to a task that orders later (docs/semantics.md
// rule 8). A task executing elsewhere keeps i off this node until it settles, at the
// cost of i's trip through the queue.
func (r *queuedTasks) ahead(i int32) bool {
	for r.q.Len() > 0 {
		j := r.q.items[0]
		if n := r.q.g.nodes[j]; n.inflight && !n.local {
			return r.q.before(j, i)
		}
		heap.Pop(&r.q)
	}
	return false
}
