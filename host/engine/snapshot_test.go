package engine

import (
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestGraphTreeStatus: the tree's status at the end of a run is calculate_status of the
// tree under the root, read from the views.
func TestGraphTreeStatus(t *testing.T) {
	t.Parallel()
	type node struct {
		id, parent string
		status     task.Status
	}
	tests := []struct {
		name   string
		nodes  []node
		rootID string
		want   task.Status
	}{
		{"a leaf root has its own status", []node{{"r", "", task.Failed}}, "r", task.Failed},
		{"all children completed", []node{{"r", "", task.Pending}, {"a", "r", task.Completed}, {"b", "r", task.Completed}}, "r", task.Completed},
		{"a failed child wins over an in_progress one", []node{{"r", "", task.Completed}, {"a", "r", task.InProgress}, {"b", "r", task.Failed}}, "r", task.Failed},
		{"an in_progress child", []node{{"r", "", task.Completed}, {"a", "r", task.InProgress}, {"b", "r", task.Completed}}, "r", task.InProgress},
		{"cancelled children: pending", []node{{"r", "", task.Completed}, {"a", "r", task.Cancelled}}, "r", task.Pending},
		{"a grandchild decides its parent", []node{{"r", "", task.Completed}, {"a", "r", task.Completed}, {"g", "a", task.Failed}}, "r", task.Failed},
		{"a task whose parent is not in the tree is left out", []node{{"r", "", task.Pending}, {"a", "r", task.Completed}, {"o", "gone", task.Failed}}, "r", task.Completed},
		{"no root: pending", []node{{"a", "x", task.Completed}}, "r", task.Pending},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var tasks []*task.Task
			for i, n := range tc.nodes {
				tasks = append(tasks, &task.Task{ID: n.id, ParentID: n.parent, Status: n.status, Seq: i})
			}
			if got := newGraph(tasks).treeStatus(tc.rootID); got != tc.want {
				t.Errorf("treeStatus = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestViews: a coordinator keeps whole only the root's task and the tasks it sets in
// flight; every other node keeps a view that follows its writes, with a result only when
// a task depends on it, and one copy of each executor id and parent id.
func TestViews(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (*coordinator, map[string]*node) {
		t.Helper()
		tasks := buildTree([]spec{{id: "r"}, {id: "a", method: "echo"}, {id: "b", method: "echo", deps: []task.Dependency{{ID: "a", Required: true}}}})
		c := &coordinator{run: &Run{rootID: "r"}, graph: newGraph(tasks)}
		nodes := map[string]*node{}
		for _, n := range c.graph.nodes {
			nodes[n.v.id] = n
		}
		return c, nodes
	}
	done := func(src *task.Task, result any) *task.Task {
		t := *src
		t.ID = string([]byte(src.ID)) // as decoded: strings of its own
		t.ParentID = string([]byte(src.ParentID))
		t.Schemas = map[string]any{"method": string([]byte(src.Method()))}
		t.Status, t.Result, t.CompletedAt = task.Completed, result, time.Now()
		return &t
	}

	t.Run("slim keeps the root whole and views the others", func(t *testing.T) {
		t.Parallel()
		c, n := setup(t)
		for _, id := range []string{"r", "a", "b"} {
			c.slim(n[id], done(n[id].t, map[string]any{"v": id}))
		}
		if n["r"].t == nil || n["r"].t.Status != task.Completed {
			t.Errorf("root keeps %+v, want its whole completed task", n["r"].t)
		}
		for _, id := range []string{"a", "b"} {
			if n[id].t != nil {
				t.Errorf("task %s keeps its whole task", id)
			}
			if n[id].v.status != task.Completed || n[id].v.id != id || n[id].v.method != "echo" {
				t.Errorf("view of %s = %+v", id, n[id].v)
			}
		}
		if n["a"].v.result == nil {
			t.Error("a, a dependency of b, lost its result")
		}
		if n["b"].v.result != nil {
			t.Error("b, which nothing depends on, keeps its result")
		}
		if unsafe.StringData(n["a"].v.method) != unsafe.StringData(n["b"].v.method) {
			t.Error("two views hold their own copies of one executor id")
		}
		if unsafe.StringData(n["a"].v.parentID) != unsafe.StringData(n["r"].v.id) {
			t.Error("a view holds its own copy of its parent's id")
		}
	})
	t.Run("set keeps the whole task", func(t *testing.T) {
		t.Parallel()
		c, n := setup(t)
		started := *n["a"].t
		started.Status = task.InProgress
		c.set(n["a"], &started)
		if n["a"].t != &started || n["a"].v.status != task.InProgress {
			t.Errorf("after set: t %p, view %+v", n["a"].t, n["a"].v)
		}
	})
	t.Run("predict changes a view alone", func(t *testing.T) {
		t.Parallel()
		c, n := setup(t)
		c.slim(n["b"], n["b"].t)
		c.predict(n["b"], func(t *task.Task) error { return t.Cancel("stop", time.Now()) })
		if n["b"].t != nil || n["b"].v.status != task.Cancelled || n["b"].v.err != "stop" {
			t.Errorf("after a predicted cancel: t %v, view %+v", n["b"].t, n["b"].v)
		}
		c.predict(n["b"], func(t *task.Task) error {
			t.Error = "changed"
			return errors.New("refused")
		})
		if n["b"].v.err != "stop" {
			t.Errorf("a prediction that failed changed the view: %+v", n["b"].v)
		}
	})
}
