package api

import (
	"encoding/json"
	"fmt"

	"github.com/apflow-wasm/apflow/host/task"
)

// Answers. A method's result is encoded once, into the bytes the response carries
// (respond); the response, or the batch, is appended around those bytes (one copy) and
// written as it is, unchecked by encoding/json (writeJSON). Tasks, lists of them and the
// trees tasks.tree answers are written by the task's own encoder (task.Task.AppendJSON,
// which writes what encoding/json writes: FuzzEncoderMatchesEncodingJSON), other
// results by encoding/json. Through json.Marshal alone, each task's output was checked
// and compacted, then the whole result again inside the response, then the response
// once more: three passes over the bytes of a 1,000-task answer, which took longer than
// encoding it (docs/performance.md, twenty-second pass). TestAnswerIsEncodingJSONs holds
// the results to encoding/json's bytes; the request's id is echoed as received
// (jsonrpc.Response.MarshalJSON).

// appendResult appends the JSON of a method's result to b.
func appendResult(b []byte, res any) ([]byte, error) {
	switch r := res.(type) {
	case *task.Task:
		return appendTask(b, r)
	case []*task.Task:
		return appendArray(b, r, appendTask)
	case *task.TreeNode:
		return appendTree(b, r)
	case *fieldsNode:
		return appendFieldsTree(b, r)
	}
	v, err := json.Marshal(res)
	return append(b, v...), err
}

// appendTask appends t's wire form (null for nil).
func appendTask(b []byte, t *task.Task) ([]byte, error) {
	if t == nil {
		return append(b, "null"...), nil
	}
	out, err := t.AppendJSON(b, nil)
	if err != nil {
		return b, fmt.Errorf("task %s: %w", t.ID, err)
	}
	return out, nil
}

// appendTree appends n as {"task":…,"children":[…]}, the fields of task.TreeNode.
func appendTree(b []byte, n *task.TreeNode) ([]byte, error) {
	if n == nil {
		return append(b, "null"...), nil
	}
	return appendNode(b, func(b []byte) ([]byte, error) { return appendTask(b, n.Task) }, n.Children, appendTree)
}

// appendFieldsTree appends n as appendTree does; its tasks are encoded already
// (task.Fields.Marshal).
func appendFieldsTree(b []byte, n *fieldsNode) ([]byte, error) {
	if n == nil {
		return append(b, "null"...), nil
	}
	return appendNode(b, func(b []byte) ([]byte, error) {
		if n.Task == nil {
			return append(b, "null"...), nil
		}
		return append(b, n.Task...), nil
	}, n.Children, appendFieldsTree)
}

// appendNode appends a node of a tree: its task (appendTask), then its children.
func appendNode[N any](b []byte, appendTask func([]byte) ([]byte, error), children []N,
	appendChild func([]byte, N) ([]byte, error)) ([]byte, error) {
	b = append(b, `{"task":`...)
	b, err := appendTask(b)
	if err != nil {
		return b, err
	}
	b = append(b, `,"children":`...)
	if b, err = appendArray(b, children, appendChild); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// appendArray appends items as a JSON array, each with appendItem (null when items is
// nil, as encoding/json writes a nil slice).
func appendArray[T any](b []byte, items []T, appendItem func([]byte, T) ([]byte, error)) ([]byte, error) {
	if items == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, x := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendItem(b, x); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}
