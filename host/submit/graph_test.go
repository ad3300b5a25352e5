package submit

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParentCycles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		parent []int
		want   string
	}{
		{"none", []int{-1, 0, 0, 1}, "[]"},
		{"self", []int{-1, 1}, "[[1 1]]"},
		{"three", []int{-1, 3, 1, 2}, "[[1 3 2 1]]"},
		{"tail into cycle", []int{-1, 2, 3, 2}, "[[2 3 2]]"},
		{"two cycles", []int{1, 0, 3, 2, -2}, "[[0 1 0] [2 3 2]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := fmt.Sprint(parentCycles(tc.parent)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDepCycles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		deps [][]int
		want string
	}{
		{"dag", [][]int{{1, 2}, {2}, {}}, "[]"},
		{"two", [][]int{{1}, {0}}, "[[0 1 0]]"},
		{"three", [][]int{{}, {2}, {3}, {1}}, "[[1 2 3 1]]"},
		{"diamond with back edge", [][]int{{1, 2}, {3}, {3}, {0}}, "[[0 1 3 0]]"}, // one cycle per back edge
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := fmt.Sprint(depCycles(tc.deps)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// chain builds a submission of n tasks: every task after the first has the previous one
// as parent (byParent) or depends on it (otherwise, all children of the root).
func chain(n int, byParent bool) []byte {
	var b strings.Builder
	b.Grow(n * 90)
	b.WriteString(`[{"name":"t0","schemas":{"method":"echo"}}`)
	for i := 1; i < n; i++ {
		if byParent {
			fmt.Fprintf(&b, `,{"name":"t%d","parent_id":"t%d","schemas":{"method":"echo"}}`, i, i-1)
		} else {
			fmt.Fprintf(&b, `,{"name":"t%d","parent_id":"t0","dependencies":["t%d"],"schemas":{"method":"echo"}}`, i, i-1)
		}
	}
	b.WriteString("]")
	return []byte(b.String())
}

// TestDeepChainsConstantStack is not parallel because it lowers the process-wide stack
// limit: a recursive walk over 100,000 tasks would overflow 1 MiB and crash the test.
func TestDeepChainsConstantStack(t *testing.T) {
	const n = 100_000
	parentChain, depChain := chain(n, true), chain(n, false)
	// Close the dependency chain into a 100,000-task cycle: t1 depends on t(n-1).
	depCycle := []byte(strings.Replace(string(depChain), `"dependencies":["t0"]`, fmt.Sprintf(`"dependencies":["t%d"]`, n-1), 1))
	// Close the parent chain: t0 gets parent t(n-1), then no root is left.
	parentCycle := []byte(strings.Replace(string(parentChain), `[{"name":"t0",`, fmt.Sprintf(`[{"name":"t0","parent_id":"t%d",`, n-1), 1))

	old := debug.SetMaxStack(1 << 20)
	defer debug.SetMaxStack(old)

	opts, _ := setup(t)
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
		code int
		size int // length of the reported cycle
	}{
		{"parent chain", parentChain, true, 0, 0},
		{"dependency chain", depChain, true, 0, 0},
		{"dependency cycle", depCycle, false, -32002, n},
		{"parent cycle", parentCycle, false, -32012, n + 1},
	} {
		tasks, err := Prepare(context.Background(), tc.data, opts)
		if tc.ok {
			if err != nil || len(tasks) != n {
				t.Fatalf("%s: %d tasks, error %v", tc.name, len(tasks), err)
			}
			continue
		}
		ae, ps := problemsOf(t, err)
		if int(ae.Code) != tc.code {
			t.Errorf("%s: code %d, want %d", tc.name, ae.Code, tc.code)
		}
		found := false
		for _, p := range ps {
			if len(p.Cycle) == tc.size {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no cycle of length %d among %d problems", tc.name, tc.size, len(ps))
		}
	}
}

func BenchmarkPrepareChain(b *testing.B) {
	data := chain(10_000, false)
	opts, _ := setup(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Prepare(context.Background(), data, opts); err != nil {
			b.Fatal(err)
		}
	}
}
