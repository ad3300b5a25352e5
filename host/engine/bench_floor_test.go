package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apflow-wasm/apflow/host/task"
)

// BenchmarkFloor is the engine floor of each workload of the end-to-end benchmarks
// (cmd/apflow/internal/e2ebench, make bench): the trees that harness gives the apflow
// binary, as apflow run stores them (submitted), run by the engine alone with the
// in-process no-op executor on a durable Badger store. Sub-benchmark names are the
// harness's workload names; the harness prints their µs/task beside its own figures.
func BenchmarkFloor(b *testing.B) {
	for _, w := range []struct {
		name  string
		tasks int
		shape func(string) []spec
	}{
		{"wide-1k", 1_001, wide(1_000)},
		{"aggregate-1k", 1_001, fanIn(1_000)},
		{"chain-200", 201, chain(200)},
		{"diamond-100", 102, diamond(100)},
		{"wide-10k", 10_001, wide(10_000)},
		{"wide-100k", 100_001, wide(100_000)},
		{"wide-1m", 1_000_001, wide(1_000_000)},
		{"layered-1m", 1_000_001, layered(1_000, 999)},
	} {
		b.Run(w.name, func(b *testing.B) { runBench(b, w.tasks, submitted(w.shape)) })
	}
}

// submitted gives the tasks of shape what the tree files of the end-to-end benchmarks
// give theirs once apflow run has stored them: ids of the kind the host generates
// (version 7 UUIDs, task.NewID, which apflow run stores in place of a file's ids), names
// as in the files (the spec id without the run's prefix), dependencies keyed by those
// names (the key their results are injected under) and inputs of about the files' size
// ({"i": k}, k the task's place in the tree). The ids go into every index key of a task,
// twice in its parent and tree entries: with ids of a few bytes and no inputs, the floor
// took 14-28% less time than on the same trees as stored (docs/performance.md,
// nineteenth pass), less than the engine's own work on the product's trees.
func submitted(shape func(string) []spec) func(string) []spec {
	return func(p string) []spec {
		specs := shape(p)
		ids := make(map[string]string, len(specs))
		for _, s := range specs {
			ids[s.id] = task.NewID()
		}
		for k := range specs {
			s := &specs[k]
			s.name, s.id = strings.TrimPrefix(s.id, p), ids[s.id]
			if s.parent != "" {
				s.parent = ids[s.parent]
			}
			deps := make([]task.Dependency, len(s.deps))
			for i, d := range s.deps {
				deps[i] = task.Dependency{ID: ids[d.ID], Required: d.Required, Key: strings.TrimPrefix(d.ID, p)}
			}
			s.deps = deps
			s.inputs = map[string]any{"i": k}
		}
		return specs
	}
}

// diamond is a root depending on n middle tasks that all depend on one source task:
// 1 → n → 1.
func diamond(n int) func(string) []spec {
	return func(p string) []spec {
		src := p + "src"
		var mids []string
		for i := 0; i < n; i++ {
			mids = append(mids, fmt.Sprintf("%sm%d", p, i))
		}
		specs := []spec{{id: p + "root", method: "noop", deps: req(mids...)}, {id: src, method: "noop"}}
		for _, id := range mids {
			specs = append(specs, spec{id: id, method: "noop", deps: req(src)})
		}
		return specs
	}
}

// layered is a root depending on groups tasks, each depending on its own per children
// (their parent): leaves run first, then the groups, then the root.
func layered(groups, per int) func(string) []spec {
	return func(p string) []spec {
		var gids []string
		for g := 0; g < groups; g++ {
			gids = append(gids, fmt.Sprintf("%sg%d", p, g))
		}
		specs := []spec{{id: p + "root", method: "noop", deps: req(gids...)}}
		for g, gid := range gids {
			var kids []string
			for c := 0; c < per; c++ {
				kids = append(kids, fmt.Sprintf("%sg%dc%d", p, g, c))
			}
			specs = append(specs, spec{id: gid, method: "noop", deps: req(kids...)})
			for _, kid := range kids {
				specs = append(specs, spec{id: kid, parent: gid, method: "noop"})
			}
		}
		return specs
	}
}

// TestSubmittedKeepsTheShape checks that the floor's trees are their shapes with new
// ids: every reference follows its task; names, dependency keys and inputs are the
// files'.
func TestSubmittedKeepsTheShape(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape func(string) []spec
	}{
		{"wide", wide(3)},
		{"aggregate", fanIn(3)},
		{"chain", chain(3)},
		{"diamond", diamond(3)},
		{"layered", layered(2, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, after := tc.shape("r0-"), submitted(tc.shape)("r0-")
			if len(after) != len(before) {
				t.Fatalf("%d tasks, want %d", len(after), len(before))
			}
			newID := map[string]string{}
			for k, s := range after {
				if len(s.id) != 36 || s.id[14] != '7' || newID[before[k].id] != "" {
					t.Fatalf("task %d: id %q is not a fresh UUID", k, s.id)
				}
				newID[before[k].id] = s.id
			}
			for k, s := range after {
				b := before[k]
				if s.name != strings.TrimPrefix(b.id, "r0-") || s.inputs["i"] != k {
					t.Errorf("task %d: name %q, inputs %v", k, s.name, s.inputs)
				}
				if s.parent != newID[b.parent] && b.parent != "" || len(s.deps) != len(b.deps) {
					t.Fatalf("task %d: parent %q, deps %v; was %q, %v", k, s.parent, s.deps, b.parent, b.deps)
				}
				for i, d := range s.deps {
					if d.ID != newID[b.deps[i].ID] || d.Required != b.deps[i].Required || d.Key != strings.TrimPrefix(b.deps[i].ID, "r0-") {
						t.Errorf("task %d: dependency %d is %+v, want %s", k, i, d, newID[b.deps[i].ID])
					}
				}
			}
		})
	}
}
