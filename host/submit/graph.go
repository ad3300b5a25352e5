package submit

// parentCycles returns the cycles of the parent graph, each as task indices
// [a, parent(a), ..., a], starting at the cycle's lowest index. parent[i] is the index of
// i's parent, or negative for a root or an unresolved parent. It runs in linear time
// and never recurses.
func parentCycles(parent []int) [][]int {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(parent))
	var cycles [][]int
	var path []int
	for start := range parent {
		if state[start] != unseen {
			continue
		}
		path = path[:0]
		n := start
		for n >= 0 && state[n] == unseen {
			state[n] = onPath
			path = append(path, n)
			n = parent[n]
		}
		if n >= 0 && state[n] == onPath {
			// n is on the current path: the path from n onwards is a cycle.
			i := 0
			for path[i] != n {
				i++
			}
			cycles = append(cycles, rotate(path[i:]))
		}
		for _, p := range path {
			state[p] = done
		}
	}
	return cycles
}

// depCycles returns cycles of the dependency graph, each as [a, b, ..., a] where each
// task depends on the next. Every back edge found by a depth-first search yields one
// cycle, so every cyclic strongly connected part is reported at least once. deps[i]
// lists the indices i depends on. Iterative: constant stack whatever the depth.
func depCycles(deps [][]int) [][]int {
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(deps))
	type frame struct{ node, next int }
	var stack []frame
	pos := make([]int, len(deps)) // position of a grey node on stack
	var cycles [][]int
	for root := range deps {
		if color[root] != white {
			continue
		}
		color[root] = grey
		pos[root] = 0
		stack = append(stack[:0], frame{root, 0})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(deps[top.node]) {
				color[top.node] = black
				stack = stack[:len(stack)-1]
				continue
			}
			m := deps[top.node][top.next]
			top.next++
			switch color[m] {
			case white:
				color[m] = grey
				pos[m] = len(stack)
				stack = append(stack, frame{m, 0})
			case grey:
				cyc := make([]int, 0, len(stack)-pos[m]+1)
				for _, f := range stack[pos[m]:] {
					cyc = append(cyc, f.node)
				}
				cycles = append(cycles, rotate(cyc))
			}
		}
	}
	return cycles
}

// rotate returns the cycle c (without its closing repetition) rotated to start at its
// lowest index, with the first element repeated at the end.
func rotate(c []int) []int {
	lo := 0
	for i, n := range c {
		if n < c[lo] {
			lo = i
		}
	}
	out := make([]int, 0, len(c)+1)
	out = append(out, c[lo:]...)
	out = append(out, c[:lo]...)
	return append(out, out[0])
}
