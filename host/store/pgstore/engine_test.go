package pgstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apflow-wasm/apflow/host/builtin"
	"github.com/apflow-wasm/apflow/host/engine"
	"github.com/apflow-wasm/apflow/host/task"
)

// engineTree is a root aggregator over c, which aggregates a and b: a and b run first,
// then c, then the root, each dependent receiving its dependencies' results.
func engineTree(now time.Time) []*task.Task {
	agg := map[string]any{"method": builtin.AggregateResultsID}
	mkAgg := func(id, parent string, seq int, deps ...string) *task.Task {
		t := &task.Task{ID: id, ParentID: parent, TaskTreeID: "root", Name: id, Status: task.Pending,
			Priority: task.DefaultPriority, Schemas: agg, Seq: seq, CreatedAt: now, Inputs: map[string]any{}}
		for _, d := range deps {
			t.Dependencies = append(t.Dependencies, task.Dependency{ID: d, Required: true})
		}
		return t
	}
	return []*task.Task{
		mkAgg("root", "", 0, "c"),
		mkAgg("a", "root", 1),
		mkAgg("b", "root", 2),
		mkAgg("c", "root", 3, "a", "b"),
	}
}

func newEngine(t *testing.T, s *Store) *engine.Engine {
	t.Helper()
	e, err := engine.New(engine.Config{Store: s, Catalog: builtin.Catalog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// TestEngineRunsATreeOnPostgreSQL runs a tree with dependencies end to end through the
// engine on this store.
func TestEngineRunsATreeOnPostgreSQL(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, Options{})
	create(t, s, engineTree(time.Now())...)
	res, err := newEngine(t, s).Execute(t.Context(), "root", engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != task.Completed || res.Counts[task.Completed] != 4 {
		t.Fatalf("run ended %s with counts %v, want 4 completed", res.Status, res.Counts)
	}
	tree, err := s.Tree(t.Context(), "root")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range tree {
		if x.Status != task.Completed || x.Attempts != 1 {
			t.Errorf("%s stored %s after %d attempts, want completed after 1", x.ID, x.Status, x.Attempts)
		}
	}
	c, _ := s.Get(t.Context(), "c")
	if got := c.Result.(map[string]any)["summary"]; !strings.Contains(got.(string), "a, b") {
		t.Errorf("c's result %v does not aggregate a and b", c.Result)
	}
	if tree[0].Run != nil {
		t.Errorf("the ended run left its marker: %+v", tree[0].Run)
	}
	var active int
	if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM apflow_tasks WHERE run_active").Scan(&active); err != nil || active != 0 {
		t.Errorf("%d roots marked running after the run, %v", active, err)
	}
}

// TestEngineResumesARunAnotherNodeLeft: a node died mid-run (a started, the root
// marked); an engine on another Store of the same database recovers and finishes it.
func TestEngineResumesARunAnotherNodeLeft(t *testing.T) {
	t.Parallel()
	dead, dsn := setup(t, Options{})
	now := time.Now()
	create(t, dead, engineTree(now)...)
	if _, err := dead.Update(t.Context(), "root", func(t *task.Task) error {
		t.Run = &task.RunMarker{StartedAt: now}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := dead.Update(t.Context(), "a", func(t *task.Task) error { return t.Start(now) }); err != nil {
		t.Fatal(err)
	}
	if err := dead.Close(); err != nil {
		t.Fatal(err)
	}
	s := open(t, Options{DSN: dsn})
	e := newEngine(t, s)
	if err := e.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		root, err := s.Get(t.Context(), "root")
		if err != nil {
			t.Fatal(err)
		}
		if root.Status == task.Completed && root.Run == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recovered run did not complete: root %s, marker %+v", root.Status, root.Run)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a, _ := s.Get(t.Context(), "a")
	if a.Status != task.Completed || a.Attempts != 2 {
		t.Fatalf("a: %s after %d attempts, want completed after 2 (the interrupted one counts)", a.Status, a.Attempts)
	}
}
