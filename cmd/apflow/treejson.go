package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/apflow-wasm/apflow/host/task"
)

// writeTreesJSON writes trees as writeJSON writes them (one tree as its node, several as
// an array, indented by two spaces, then a newline), byte for byte, a task at a time: it
// never holds the encoding of a whole tree, which for 10,000 tasks is megabytes
// marshalled, then copied again to indent it. The nesting is walked with a stack, so a
// deep tree (a long chain by parent) needs no deep recursion.
func writeTreesJSON(w io.Writer, trees []*task.TreeNode) error {
	tw := &treeWriter{w: bufio.NewWriterSize(w, 64<<10)}
	if len(trees) == 1 {
		tw.nodes([]*task.TreeNode{trees[0]}, "", false)
	} else {
		tw.nodes(trees, "", true)
	}
	tw.str("\n")
	if tw.err != nil {
		return tw.err
	}
	return tw.w.Flush()
}

// treeWriter writes nodes and keeps the first error.
type treeWriter struct {
	w   *bufio.Writer
	buf bytes.Buffer // a task's indented encoding, reused
	err error
}

func (tw *treeWriter) str(s string) {
	if tw.err == nil {
		_, tw.err = tw.w.WriteString(s)
	}
}

// task writes t indented, its first line continuing the current one and the others
// starting with prefix. Task.MarshalJSON's output is compact and escaped as json.Marshal
// leaves it, so indenting it gives what json.MarshalIndent gives, without compacting it
// again first.
func (tw *treeWriter) task(t *task.Task, prefix string) {
	if tw.err != nil {
		return
	}
	if t == nil {
		tw.str("null")
		return
	}
	b, err := t.MarshalJSON()
	if err == nil {
		tw.buf.Reset()
		err = json.Indent(&tw.buf, b, prefix, "  ")
	}
	if err != nil {
		tw.err = fmt.Errorf("encode task %s: %w", t.ID, err)
		return
	}
	_, tw.err = tw.w.Write(tw.buf.Bytes())
}

// list is an array of nodes being written: items from next on are still to come, each
// on its own line starting with prefix; end closes the array and, when it holds a node's
// children, the node.
type list struct {
	items  []*task.TreeNode
	next   int
	prefix string
	end    string
}

// nodes writes items, as an array when array is true (else items holds one node, written
// alone), starting on the current line, its other lines starting with prefix.
func (tw *treeWriter) nodes(items []*task.TreeNode, prefix string, array bool) {
	var stack []list
	if array {
		if len(items) == 0 {
			tw.str("[]")
			return
		}
		tw.str("[")
		stack = append(stack, list{items: items, prefix: prefix + "  ", end: "\n" + prefix + "]"})
	} else if !tw.open(items[0], prefix, &stack) {
		return
	}
	for len(stack) > 0 && tw.err == nil {
		l := &stack[len(stack)-1]
		if l.next == len(l.items) {
			tw.str(l.end)
			stack = stack[:len(stack)-1]
			continue
		}
		n := l.items[l.next]
		if l.next > 0 {
			tw.str(",")
		}
		tw.str("\n" + l.prefix)
		l.next++
		tw.open(n, l.prefix, &stack)
	}
}

// open writes node n, whose first line continues the current one and whose other lines
// start with prefix, up to its first child, and pushes its children; a node without
// children is written whole. It reports whether it pushed.
func (tw *treeWriter) open(n *task.TreeNode, prefix string, stack *[]list) bool {
	if n == nil {
		tw.str("null")
		return false
	}
	tw.str("{\n" + prefix + `  "task": `)
	tw.task(n.Task, prefix+"  ")
	tw.str(",\n" + prefix + `  "children": `)
	switch {
	case n.Children == nil:
		tw.str("null\n" + prefix + "}")
	case len(n.Children) == 0:
		tw.str("[]\n" + prefix + "}")
	default:
		tw.str("[")
		*stack = append(*stack, list{items: n.Children, prefix: prefix + "    ", end: "\n" + prefix + "  ]\n" + prefix + "}"})
		return true
	}
	return false
}
