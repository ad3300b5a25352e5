package engine

import "container/heap"

// readyQueue orders ready tasks: priority ascending (0 first), then submission order
// (task.Seq), then position in the tree. Entries whose node left the ready state (a
// cancel) are skipped when popped.
type readyQueue struct {
	g     *graph
	items []int32
}

func (q *readyQueue) Len() int { return len(q.items) }
func (q *readyQueue) Less(i, j int) bool {
	a, b := &q.g.nodes[q.items[i]].v, &q.g.nodes[q.items[j]].v
	if a.priority != b.priority {
		return a.priority < b.priority
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return q.items[i] < q.items[j]
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
