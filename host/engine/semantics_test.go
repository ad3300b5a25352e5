package engine

import (
	"context"
	"reflect"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// Tests of rules of docs/semantics.md that no other test pins on its own.

// TestParentIDOnlyGroups (docs/semantics.md rule 6): parent_id never orders execution. A
// child starts before its parent when its priority says so, and a parent before its
// child; neither waits for the other.
func TestParentIDOnlyGroups(t *testing.T) {
	t.Parallel()
	v := setup(t, withConcurrency(1))
	root := v.create(
		spec{id: "root"},
		spec{id: "p", priority: prio(3)},
		spec{id: "c", parent: "p", priority: prio(0)},
		spec{id: "p2", priority: prio(0)},
		spec{id: "c2", parent: "p2", priority: prio(3)},
	)
	res := v.run(root, RunOptions{})
	if res.Status != task.Completed || res.Counts[task.Completed] != 5 {
		t.Fatalf("result = %+v", res)
	}
	want := []string{"c", "p2", "p", "c2", "root"}
	if got := v.cat.startOrder(); !reflect.DeepEqual(got, want) {
		t.Fatalf("start order = %v, want %v (priority and submission order only)", got, want)
	}
}

// TestNullResultSatisfiesRequiredDependency (docs/semantics.md rule 7): a required
// dependency that completed with a null result satisfies its dependent, which gets no
// injected data from it.
func TestNullResultSatisfiesRequiredDependency(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(
		spec{id: "root", deps: req("b")},
		spec{id: "a", params: map[string]any{"out": nil}},
		spec{id: "b", deps: req("a"), inputs: map[string]any{"own": 1}},
	)
	res := v.run(root, RunOptions{})
	if res.Status != task.Completed {
		t.Fatalf("result = %+v", res)
	}
	if a := v.wantStatus("a", task.Completed); a.Result != nil {
		t.Fatalf("a result = %v, want null", a.Result)
	}
	v.wantStatus("b", task.Completed)
	if got := sortedKeys(v.cat.inputs["b"]); !reflect.DeepEqual(got, []string{"own"}) {
		t.Fatalf("b inputs keys = %v, want only its own", got)
	}
}

// TestRerunOfCompletedTreeDoesNothing (docs/semantics.md rule 15): re-executing a tree
// whose tasks all completed runs nothing and keeps every result, unless Full is asked.
func TestRerunOfCompletedTreeDoesNothing(t *testing.T) {
	t.Parallel()
	v := setup(t)
	root := v.create(spec{id: "root", deps: req("a")}, spec{id: "a"})
	v.run(root, RunOptions{})
	before := v.get("a")
	res := v.run(root, RunOptions{})
	if res.Status != task.Completed {
		t.Fatalf("re-run result = %+v", res)
	}
	for _, id := range []string{"root", "a"} {
		if n := v.cat.executions[id]; n != 1 {
			t.Fatalf("%s executed %d times, want 1 (a completed tree re-run does nothing)", id, n)
		}
	}
	if after := v.get("a"); !after.CompletedAt.Equal(before.CompletedAt) || !reflect.DeepEqual(after.Result, before.Result) {
		t.Fatalf("a changed by a no-op re-run: %+v -> %+v", before, after)
	}
	v.run(root, RunOptions{Full: true})
	for _, id := range []string{"root", "a"} {
		if n := v.cat.executions[id]; n != 2 {
			t.Fatalf("%s executed %d times after a full re-run, want 2", id, n)
		}
	}
}

// TestStartWriteFailureNeverDispatches (docs/semantics.md rule 17): an executor runs only
// after its start transition is committed. When the write that starts "a" fails, a's
// executor never runs and the run ends with the store error.
func TestStartWriteFailureNeverDispatches(t *testing.T) {
	t.Parallel()
	fs := &failTaskStore{Store: memStore(t), id: "a", okWrites: 0}
	v := setupStore(t, fs)
	root := v.create(spec{id: "root"}, spec{id: "a"})
	run, err := v.e.Start(context.Background(), root, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantRefusedRun(t, v, run, "a", "the start write of a")
}
