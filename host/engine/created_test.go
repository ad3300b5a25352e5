package engine

import (
	"context"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/memstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// treeReads counts the reads of whole trees of a memstore: ScanTree, how a run loads its
// tree from such a store, and Tree, how others read it (a tree hook's event).
type treeReads struct {
	*memstore.Store
	scans, trees atomic.Int32
}

func (s *treeReads) Tree(ctx context.Context, treeID string) ([]*task.Task, error) {
	s.trees.Add(1)
	return s.Store.Tree(ctx, treeID)
}

func (s *treeReads) ScanTree(ctx context.Context, treeID string, fn func(*task.Task) error) error {
	s.scans.Add(1)
	return s.Store.ScanTree(ctx, treeID, fn)
}

// copying is a store.Batch that builds a new copy of a task at each read, as
// submit.Tree does, and fails the test when one is read more than twice.
type copying struct {
	t     *testing.T
	tasks []*task.Task
	reads []int
}

func (c *copying) Len() int { return len(c.tasks) }

func (c *copying) Task(i int) *task.Task {
	if c.reads[i]++; c.reads[i] > 2 {
		c.t.Errorf("task %s read %d times, want at most twice", c.tasks[i].ID, c.reads[i])
	}
	return c.tasks[i].Clone()
}

// TestRunFromCreatedTasks: a run given the tree its caller just created
// (RunOptions.Created) does not read it back, and runs it as a run that reads it does:
// the same order, injected results and outcome. Where the created tasks cannot be
// trusted, the tree is read.
func TestRunFromCreatedTasks(t *testing.T) {
	t.Parallel()
	specs := []spec{
		{id: "root", deps: req("b")},
		{id: "a", priority: prio(3)},
		{id: "b", deps: req("a"), inputs: map[string]any{"x": 1}},
		{id: "c", priority: prio(0)},
	}
	setup := func(t *testing.T, opts ...option) (*env, *treeReads, []*task.Task) {
		st := &treeReads{Store: memstore.New()}
		t.Cleanup(func() { _ = st.Close() })
		v := setupStore(t, st, append([]option{withConcurrency(1)}, opts...)...)
		tasks := buildTree(specs)
		if err := st.Create(context.Background(), tasks); err != nil {
			t.Fatal(err)
		}
		return v, st, tasks
	}
	want := func(t *testing.T, v *env, res RunResult) {
		t.Helper()
		if res.Status != task.Completed || res.Counts[task.Completed] != len(specs) {
			t.Fatalf("run: %s, counts %v; want every task completed", res.Status, res.Counts)
		}
		if got := v.cat.startOrder(); !reflect.DeepEqual(got, []string{"c", "a", "b", "root"}) {
			t.Errorf("start order %v, want by priority, then dependencies", got)
		}
		if in := v.cat.inputs["b"]; in["done"] != "a" || in["x"] == nil {
			t.Errorf("b's inputs %v, want its own and a's result merged", in)
		}
		if res.Root == nil || res.Root.Result == nil || res.Root.CreatedAt.IsZero() {
			t.Errorf("run's root snapshot %+v, want the stored root with its result", res.Root)
		}
	}
	tests := []struct {
		name      string
		opts      []option
		created   func(*testing.T, []*task.Task) store.Batch
		wantScans int32 // scans of the tree by the Start
		only      bool  // RunOptions.OnlyUnstarted
	}{
		{"the created tree is not read back", nil, func(_ *testing.T, ts []*task.Task) store.Batch { return store.Tasks(ts) }, 0, false},
		{"created out of submission order", nil, func(_ *testing.T, ts []*task.Task) store.Batch {
			reversed := slices.Clone(ts)
			slices.Reverse(reversed)
			return store.Tasks(reversed)
		}, 0, false},
		{"a batch built at each read, read at most twice", nil, func(t *testing.T, ts []*task.Task) store.Batch {
			return &copying{t: t, tasks: ts, reads: make([]int, len(ts))}
		}, 0, false},
		{"without created tasks the tree is read", nil, func(*testing.T, []*task.Task) store.Batch { return nil }, 1, false},
		{"an empty batch: the tree is read", nil, func(*testing.T, []*task.Task) store.Batch { return store.Tasks(nil) }, 1, false},
		{"hooks configured: the tree is read", []option{withHooks(&recHooks{})}, func(_ *testing.T, ts []*task.Task) store.Batch { return store.Tasks(ts) }, 1, false},
		{"a task of another tree: the tree is read", nil, func(_ *testing.T, ts []*task.Task) store.Batch {
			return store.Tasks(append(ts[:len(ts):len(ts)], &task.Task{ID: "x", TaskTreeID: "other", ParentID: "y"}))
		}, 1, false},
		// OnlyUnstarted's check scans the tree (a keyed submission's first run); the run
		// itself does not load it again.
		{"only unstarted: the check scans it, the run does not", nil, func(_ *testing.T, ts []*task.Task) store.Batch { return store.Tasks(ts) }, 1, true},
		{"only unstarted without created tasks: scanned twice", nil, func(*testing.T, []*task.Task) store.Batch { return nil }, 2, true},
		// The check counts the stored tree: a batch of another size is not trusted.
		{"only unstarted, a batch that is not the stored tree: it is read", nil, func(_ *testing.T, ts []*task.Task) store.Batch {
			return store.Tasks(ts[:len(ts)-1])
		}, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, st, tasks := setup(t, tt.opts...)
			res := v.run("root", RunOptions{Created: tt.created(t, tasks), OnlyUnstarted: tt.only})
			want(t, v, res)
			if n := st.scans.Load(); n != tt.wantScans {
				t.Errorf("the Start scanned the tree %d times, want %d", n, tt.wantScans)
			}
			if n := st.trees.Load(); tt.opts == nil && n != 0 {
				t.Errorf("the tree was read %d times without hooks, want 0", n)
			}
		})
	}
}
