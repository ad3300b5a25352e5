package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Case is one file of examples/generate/cases: a requirement and the properties a
// correct tree has.
type Case struct {
	Name        string `json:"-"`
	Requirement string `json:"requirement"`
	Expect      Expect `json:"expect"`
}

// Expect are the properties checked on a generated tree. An executor pattern is an
// executor id, or ids separated by "|" (any of them).
type Expect struct {
	// Executors: each pattern is the executor of at least one task.
	Executors []string `json:"executors"`
	// MinTasks and MaxTasks bound the number of tasks (0: no bound).
	MinTasks int `json:"min_tasks"`
	MaxTasks int `json:"max_tasks"`
	// Parallel: for each pair, two distinct tasks matching it with no dependency path
	// between them (they may run at the same time).
	Parallel [][2]string `json:"parallel"`
	// Order: for each pair [a, b], a task matching b depends, directly or not, on a task
	// matching a.
	Order [][2]string `json:"order"`
	// Root: the root's executor, and patterns its direct dependencies cover (one
	// distinct dependency per pattern).
	Root *struct {
		Executor   string   `json:"executor"`
		Aggregates []string `json:"aggregates"`
	} `json:"root"`
}

// Check is one property's outcome.
type Check struct {
	Name string
	OK   bool
}

// node is a task of a scored tree.
type node struct {
	key      string // id, else name
	executor string
	parent   string
	deps     []string // keys
}

// Score checks tree (the JSON array apflow generate wrote) against e.
func Score(e Expect, tree []byte) ([]Check, error) {
	nodes, err := decodeTree(tree)
	if err != nil {
		return nil, err
	}
	var out []Check
	add := func(name string, ok bool) { out = append(out, Check{Name: name, OK: ok}) }
	for _, p := range e.Executors {
		add("uses "+p, len(matching(nodes, p)) > 0)
	}
	if e.MinTasks > 0 {
		add(fmt.Sprintf("at least %d tasks", e.MinTasks), len(nodes) >= e.MinTasks)
	}
	if e.MaxTasks > 0 {
		add(fmt.Sprintf("at most %d tasks", e.MaxTasks), len(nodes) <= e.MaxTasks)
	}
	reach := reachability(nodes)
	for _, pq := range e.Parallel {
		add(fmt.Sprintf("parallel %s, %s", pq[0], pq[1]), somePair(nodes, pq, func(a, b int) bool { return !reach[a][b] && !reach[b][a] }))
	}
	for _, pq := range e.Order {
		add(fmt.Sprintf("%s before %s", pq[0], pq[1]), somePair(nodes, pq, func(a, b int) bool { return reach[b][a] }))
	}
	if r := e.Root; r != nil {
		root := -1
		for i, n := range nodes {
			if n.parent == "" {
				root = i
			}
		}
		add("root runs "+r.Executor, root >= 0 && matches(nodes[root].executor, r.Executor))
		if len(r.Aggregates) > 0 {
			add("root aggregates "+strings.Join(r.Aggregates, ", "), root >= 0 && covers(nodes, nodes[root].deps, r.Aggregates))
		}
	}
	return out, nil
}

func decodeTree(tree []byte) ([]node, error) {
	var raw []struct {
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		ParentID string          `json:"parent_id"`
		Schemas  map[string]any  `json:"schemas"`
		Params   map[string]any  `json:"params"`
		Deps     json.RawMessage `json:"dependencies"`
	}
	if err := json.Unmarshal(tree, &raw); err != nil {
		return nil, fmt.Errorf("the tree is not a JSON array of tasks: %w", err)
	}
	names := map[string]string{}
	for _, t := range raw {
		if t.ID != "" && t.Name != "" {
			names[t.Name] = t.ID
		}
	}
	key := func(ref string) string {
		if id, ok := names[ref]; ok {
			return id
		}
		return ref
	}
	nodes := make([]node, len(raw))
	for i, t := range raw {
		n := node{key: t.ID, parent: t.ParentID}
		if n.key == "" {
			n.key = t.Name
		}
		n.executor, _ = t.Schemas["method"].(string)
		if id, ok := t.Params["executor_id"].(string); ok && id != "" {
			n.executor = id
		}
		var items []any
		_ = json.Unmarshal(t.Deps, &items)
		for _, it := range items {
			switch d := it.(type) {
			case string:
				n.deps = append(n.deps, key(d))
			case map[string]any:
				if s, ok := d["id"].(string); ok {
					n.deps = append(n.deps, key(s))
				} else if s, ok := d["name"].(string); ok {
					n.deps = append(n.deps, key(s))
				}
			}
		}
		nodes[i] = n
	}
	return nodes, nil
}

// reachability returns r with r[a][b] true when task a depends, directly or not, on b.
func reachability(nodes []node) [][]bool {
	idx := map[string]int{}
	for i, n := range nodes {
		idx[n.key] = i
	}
	r := make([][]bool, len(nodes))
	for a := range nodes {
		r[a] = make([]bool, len(nodes))
		stack := []int{a}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, d := range nodes[x].deps {
				if j, ok := idx[d]; ok && !r[a][j] {
					r[a][j] = true
					stack = append(stack, j)
				}
			}
		}
	}
	return r
}

func matches(executor, pattern string) bool {
	for _, p := range strings.Split(pattern, "|") {
		if executor == p {
			return true
		}
	}
	return false
}

func matching(nodes []node, pattern string) []int {
	var out []int
	for i, n := range nodes {
		if matches(n.executor, pattern) {
			out = append(out, i)
		}
	}
	return out
}

func somePair(nodes []node, pq [2]string, ok func(a, b int) bool) bool {
	for _, a := range matching(nodes, pq[0]) {
		for _, b := range matching(nodes, pq[1]) {
			if a != b && ok(a, b) {
				return true
			}
		}
	}
	return false
}

// covers reports whether each pattern is matched by a distinct dependency of deps.
func covers(nodes []node, deps []string, patterns []string) bool {
	byKey := map[string]string{}
	for _, n := range nodes {
		byKey[n.key] = n.executor
	}
	used := make([]bool, len(deps))
	for _, p := range patterns {
		found := false
		for i, d := range deps {
			if !used[i] && matches(byKey[d], p) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
