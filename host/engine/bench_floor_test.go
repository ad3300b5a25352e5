package engine

import (
	"fmt"
	"testing"
)

// BenchmarkFloor is the engine floor of each workload of the end-to-end benchmarks
// (cmd/apflow/internal/e2ebench, make bench): the same shapes as the tree files that
// harness gives the apflow binary, run by the engine alone with the in-process no-op
// executor on a durable Badger store. Sub-benchmark names are the harness's workload
// names; the harness prints their µs/task beside its own figures.
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
		b.Run(w.name, func(b *testing.B) { runBench(b, w.tasks, w.shape) })
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
