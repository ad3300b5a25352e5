package engine

import (
	"context"
	"reflect"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// TestOwnInputs checks that no attempt, re-run or copy starts from what an earlier run
// injected into a task's inputs (docs/semantics.md rules 11, 15, 16): the stored inputs
// show what the executor got, and the own inputs are kept beside them.
func TestOwnInputs(t *testing.T) {
	t.Parallel()
	own := map[string]any{"own": "x"}
	depOut := map[string]any{"out": map[string]any{"fromdep": "v1"}}
	tests := []struct {
		name string
		// act runs the tree (root "r", consumer "c" depending on "p") a second time, in
		// some way, after a first run that completed, and returns the task whose
		// execution's inputs are checked: c, or its copy.
		act  func(t *testing.T, v *env) string
		want map[string]any // the inputs that execution got
	}{
		{"full re-run, the optional dependency now failing", func(t *testing.T, v *env) string {
			failNext(t, v, "p")
			v.run("r", RunOptions{Full: true})
			v.wantStatus("p", task.Failed)
			return "c"
		}, own},
		{"full re-run, the dependency's result changed", func(t *testing.T, v *env) string {
			setParam(t, v, "p", "out", map[string]any{"other": "v2"})
			v.run("r", RunOptions{Full: true})
			return "c"
		}, map[string]any{"own": "x", "other": "v2"}},
		{"copy of the tree, the copy's dependency failing", func(t *testing.T, v *env) string {
			failNext(t, v, "p") // its copy fails
			copies, err := v.e.Clone(context.Background(), "r", CloneOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var c string
			for _, k := range copies {
				if k.OriginalTaskID == "c" {
					c = k.ID
					if !reflect.DeepEqual(normalizeF(k.Inputs), normalizeF(own)) || k.OwnInputs != nil {
						t.Fatalf("copy's inputs = %v (own %v), want the source's own inputs %v", k.Inputs, k.OwnInputs, own)
					}
				}
			}
			v.run(copies[0].ID, RunOptions{})
			return c
		}, own},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := setup(t)
			v.create(spec{id: "r", deps: req("c")},
				spec{id: "p", params: depOut},
				spec{id: "c", deps: opt("p"), inputs: own})
			v.run("r", RunOptions{})
			c := v.wantStatus("c", task.Completed)
			merged := map[string]any{"own": "x", "fromdep": "v1"}
			if !reflect.DeepEqual(normalizeF(c.Inputs), merged) || !reflect.DeepEqual(normalizeF(c.OwnInputs), own) {
				t.Fatalf("after the first run: inputs %v, own inputs %v; want %v and %v", c.Inputs, c.OwnInputs, merged, own)
			}
			id := tc.act(t, v)
			if got := normalizeF(v.cat.inputs[id]); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s's executor got %v, want %v", id, got, tc.want)
			}
		})
	}
}

// TestResetRestoresOwnInputs checks that a reset (rule 15) returns a task's inputs to its
// own, and that a pre-hook's edit of a task without dependencies keeps them too.
func TestResetRestoresOwnInputs(t *testing.T) {
	t.Parallel()
	v := setup(t, withHooks(&recHooks{}))
	v.create(spec{id: "r", deps: req("c")}, spec{id: "c", inputs: map[string]any{"own": "x"}})
	v.run("r", RunOptions{})
	c := v.wantStatus("c", task.Completed)
	if c.Inputs["pre"] != true || !reflect.DeepEqual(normalizeF(c.OwnInputs), map[string]any{"own": "x"}) {
		t.Fatalf("after a pre-hook: inputs %v, own inputs %v", c.Inputs, c.OwnInputs)
	}
	if _, err := v.st.Update(context.Background(), "c", func(t *task.Task) error {
		return t.Reset(t.UpdatedAt)
	}); err != nil {
		t.Fatal(err)
	}
	c = v.get("c")
	if !reflect.DeepEqual(normalizeF(c.Inputs), map[string]any{"own": "x"}) || c.OwnInputs != nil {
		t.Fatalf("after a reset: inputs %v, own inputs %v; want the own inputs back", c.Inputs, c.OwnInputs)
	}
}

// failNext makes task id's executor fail from now on.
func failNext(t *testing.T, v *env, id string) {
	t.Helper()
	setParam(t, v, id, "fail", "now failing")
}

// setParam sets params[k] of stored task id.
func setParam(t *testing.T, v *env, id, k string, val any) {
	t.Helper()
	if _, err := v.st.Update(context.Background(), id, func(t *task.Task) error {
		if t.Params == nil {
			t.Params = map[string]any{}
		}
		t.Params[k] = normalize(val)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
