package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/apferr"
	"github.com/apflow-wasm/apflow/host/store"
	"github.com/apflow-wasm/apflow/host/store/badgerstore"
	"github.com/apflow-wasm/apflow/host/task"
)

// TestSameAsBadger runs one seeded sequence of random operations (colliding ids, ties in
// created_at and seq, legal and illegal changes, filters, paging) against a memstore and
// an in-memory badgerstore, and requires the same answer from both every time: the
// same tasks (reflect.DeepEqual, so the same Go types and times), counts and errors.
func TestSameAsBadger(t *testing.T) {
	t.Parallel()
	bs, err := badgerstore.Open(badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bs.Close() })
	ms := setup(t)
	g := &gen{r: rand.New(rand.NewPCG(9, 13))}
	kinds := map[string]int{}
	for i := range 3000 {
		g.step = i
		name, op := g.op()
		kinds[name]++
		want, werr := op(bs)
		got, gerr := op(ms)
		if msg := sameOutcome(got, gerr, want, werr); msg != "" {
			t.Fatalf("operation %d (%s): %s", i, name, msg)
		}
	}
	t.Logf("operations: %v", kinds)
}

// outcome is what one operation answered.
type outcome struct {
	tasks []*task.Task
	n     int
}

type op func(s store.Store) (outcome, error)

func sameOutcome(got outcome, gerr error, want outcome, werr error) string {
	if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
		return fmt.Sprintf("error %v, badgerstore says %v", gerr, werr)
	}
	if gerr != nil {
		ge, we := apferr.As(gerr), apferr.As(werr)
		if (ge == nil) != (we == nil) || ge != nil && (ge.Code != we.Code || !reflect.DeepEqual(ge.Data, we.Data)) {
			return fmt.Sprintf("error %#v, badgerstore says %#v", ge, we)
		}
		return ""
	}
	if got.n != want.n {
		return fmt.Sprintf("count %d, badgerstore says %d", got.n, want.n)
	}
	if len(got.tasks) != len(want.tasks) {
		return fmt.Sprintf("%d tasks, badgerstore says %d", len(got.tasks), len(want.tasks))
	}
	for i := range got.tasks {
		if g, w := comparable(got.tasks[i]), comparable(want.tasks[i]); !reflect.DeepEqual(g, w) {
			gj, _ := json.Marshal(g)
			wj, _ := json.Marshal(w)
			return fmt.Sprintf("task %d:\n%s\n%#v\nbadgerstore says\n%s\n%#v", i, gj, g, wj, w)
		}
	}
	return ""
}

// comparable treats nil and empty lists alike (task.Task.Clone makes them nil).
func comparable(t *task.Task) *task.Task {
	if t == nil {
		return nil
	}
	t = t.Clone()
	if len(t.Dependencies) == 0 {
		t.Dependencies = nil
	}
	if len(t.HookErrors) == 0 {
		t.HookErrors = nil
	}
	return t
}

// gen draws random operations from a small world, so that they collide.
type gen struct {
	r    *rand.Rand
	step int
}

var epoch = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

func (g *gen) pick(from ...string) string { return from[g.r.IntN(len(from))] }
func (g *gen) id() string                 { return fmt.Sprintf("t%02d", g.r.IntN(40)) }
func (g *gen) tree() string               { return g.pick("", "g0", "g1", "g2") }
func (g *gen) user() string               { return g.pick("", "alice", "bob") }

// when returns a time of this step with nanoseconds, so that stores must truncate.
func (g *gen) when(j int) time.Time {
	return epoch.Add(time.Duration(g.step*10+j)*time.Second + time.Duration(g.r.IntN(1e9)))
}

func (g *gen) deps() []task.Dependency {
	var ds []task.Dependency
	for range g.r.IntN(3) {
		ds = append(ds, task.Dependency{ID: g.id(), Required: g.r.IntN(2) == 0})
	}
	return ds
}

func (g *gen) newTask() *task.Task {
	x := &task.Task{
		ID: g.id(), TaskTreeID: g.tree(), UserID: g.user(), Name: "n", Status: task.Pending,
		Priority: g.r.IntN(4), Seq: g.r.IntN(4), Dependencies: g.deps(),
		// Few distinct instants (ties), with nanoseconds (truncation).
		CreatedAt: epoch.Add(time.Duration(g.r.IntN(3))*time.Second + time.Duration(g.r.IntN(3))),
		Inputs:    map[string]any{"k": g.r.IntN(100), "f": 0.5},
	}
	if g.r.IntN(2) == 0 {
		x.ParentID = g.id()
	}
	switch g.r.IntN(10) {
	case 0:
		x.Status = task.Completed
	case 1:
		x.Status = "bogus"
	case 2:
		x.Inputs = nil
	}
	return x
}

func (g *gen) filter() store.Filter {
	f := store.Filter{Limit: g.r.IntN(8) - 1, Offset: g.r.IntN(10) - 1}
	if g.r.IntN(3) == 0 {
		f.Status = task.Statuses[g.r.IntN(len(task.Statuses))]
	}
	if g.r.IntN(3) == 0 {
		f.UserID = g.user()
	}
	if g.r.IntN(4) == 0 {
		f.TreeID = g.tree()
	}
	if g.r.IntN(4) == 0 {
		f.ParentID = g.id()
	}
	f.RootOnly = g.r.IntN(4) == 0
	return f
}

// mutation returns a random change; j numbers it within its operation. Every change
// sets updated_at itself (or fails), so that no store stamps its own clock.
func (g *gen) mutation(j int) func(*task.Task) error {
	at := g.when(j)
	n := g.r.IntN(100)
	deps := g.deps()
	change := []func(*task.Task) error{
		func(t *task.Task) error { return t.Start(at) },
		func(t *task.Task) error { return t.Complete(map[string]any{"n": n, "l": []any{1.5}}, at) },
		func(t *task.Task) error { return t.Fail("boom", nil, at) },
		func(t *task.Task) error { return t.Cancel("", at) },
		func(t *task.Task) error { return t.Reset(at) },
		func(t *task.Task) error { t.Priority, t.UpdatedAt = n%4, at; return nil },
		func(t *task.Task) error { t.Dependencies, t.UpdatedAt = deps, at; return nil },
		func(t *task.Task) error { t.Status, t.UpdatedAt = task.Completed, at; return nil }, // often illegal
		func(t *task.Task) error { t.UserID = "mallory"; return nil },                       // identity
		func(t *task.Task) error { t.Name = "half"; return fmt.Errorf("fn refuses %d", n) },
	}
	return change[g.r.IntN(len(change))]
}

func (g *gen) op() (string, op) {
	switch k := g.r.IntN(11); k {
	case 0, 1:
		ts := make([]*task.Task, 1+g.r.IntN(4))
		for i := range ts {
			ts[i] = g.newTask()
		}
		return "Create", func(s store.Store) (outcome, error) {
			in := make([]*task.Task, len(ts))
			for i, x := range ts {
				in[i] = x.Clone()
			}
			return outcome{}, s.Create(context.Background(), in)
		}
	case 2, 3:
		id, fn := g.id(), g.mutation(0)
		return "Update", func(s store.Store) (outcome, error) {
			t, err := s.Update(context.Background(), id, fn)
			return outcome{tasks: []*task.Task{t}}, err
		}
	case 4:
		muts := make([]store.Mutation, 1+g.r.IntN(4))
		for j := range muts {
			muts[j] = store.Mutation{ID: g.id(), Fn: g.mutation(j)}
		}
		return "UpdateMany", func(s store.Store) (outcome, error) {
			ts, err := s.UpdateMany(context.Background(), muts)
			return outcome{tasks: ts}, err
		}
	case 5:
		ids := make([]string, 1+g.r.IntN(3))
		for i := range ids {
			ids[i] = g.id()
		}
		return "Delete", func(s store.Store) (outcome, error) { return outcome{}, s.Delete(context.Background(), ids) }
	case 6:
		id := g.id()
		return "Get", func(s store.Store) (outcome, error) {
			t, err := s.Get(context.Background(), id)
			return outcome{tasks: []*task.Task{t}}, err
		}
	case 7:
		f := g.filter()
		return "List", func(s store.Store) (outcome, error) {
			ts, n, err := s.List(context.Background(), f)
			return outcome{tasks: ts, n: n}, err
		}
	case 8:
		f := g.filter()
		return "Count", func(s store.Store) (outcome, error) {
			n, err := s.Count(context.Background(), f)
			return outcome{n: n}, err
		}
	case 9:
		id := g.id()
		return "Children/Dependents", func(s store.Store) (outcome, error) {
			kids, err := s.Children(context.Background(), id)
			if err != nil {
				return outcome{}, err
			}
			deps, err := s.Dependents(context.Background(), id)
			return outcome{tasks: append(kids, deps...)}, err
		}
	default:
		tree := g.tree()
		return "Tree", func(s store.Store) (outcome, error) {
			ts, err := s.Tree(context.Background(), tree)
			return outcome{tasks: ts}, err
		}
	}
}
