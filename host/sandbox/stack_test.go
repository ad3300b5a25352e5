package sandbox

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// deepInput is an input of n bytes: deeprec recurses 100 calls deep per input byte.
func deepInput(n int) string {
	return `{"p":"` + strings.Repeat("x", n-8) + `"}`
}

func TestStackBudget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		plugin  string
		inputs  string
		kind    Kind   // "" for success
		pooled  bool   // the instance went back to the pool
		wantErr string // part of the error
	}{
		{"unbounded recursion", "recursion", `{}`, KindStackOverflow, false, "stack overflow: call stack exhausted (more than 8 MiB of frames"},
		{"shallow recursion", "deeprec", `{}`, "", true, ""},
		{"deep recursion within the budget", "deeprec", deepInput(400), "", false, ""},
		{"deep recursion past the budget", "deeprec", deepInput(2000), KindStackOverflow, false, "call stack exhausted"},
		{"calls in loops, 400,000 in all", "calllevel", `{}`, "", true, ""},
		// 20,000 calls deep, each frame holding 1,000 results: the budget, not wazero's
		// own ceiling, stops it.
		{"recursion returning 1,000 values", "manyresults", deepInput(200), KindStackOverflow, false, "call stack exhausted (more than 8 MiB of frames"},
		// 200 calls deep: within the budget, but the instance's stack grew past
		// poolStackBytes, so it is recycled.
		{"shorter recursion returning 1,000 values", "manyresults", `{}`, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{Grants: grantsFor("calllevel", callLevelGrants)})
			m := load(t, rt, tt.plugin)
			resp, err := m.Execute(context.Background(), req(tt.inputs))
			if KindOf(err) != tt.kind {
				t.Fatalf("err = %v, want kind %q", err, tt.kind)
			}
			if err != nil {
				mustContain(t, "error", err.Error(), tt.wantErr)
			} else if string(resp.Output) != `{"depth":true}` {
				t.Fatalf("output = %s", resp.Output)
			}
			if s := m.Stats(); (s.Idle == 1) != tt.pooled {
				t.Fatalf("pooled = %t, want %t: %+v", s.Idle == 1, tt.pooled, s)
			}
			// The module still works, on a fresh or reused instance.
			if resp, err := m.Execute(context.Background(), req(`{}`)); tt.plugin == "deeprec" && (err != nil || string(resp.Output) != `{"depth":true}`) {
				t.Fatalf("next call: %v, %v", resp, err)
			}
		})
	}
}

// callLevelGrants lets testdata/calllevel read config key "k": config_get answers it
// with a re-entrant alloc.
var callLevelGrants = Grants{Config: map[string]string{"k": "v"}}

// TestStackLevelRestoredAfterCalls calls testdata/calllevel's loops of 100,000 calls
// each, more calls than the budget holds frames: none traps, because the rewrite
// restores the caller's level after every call. After a top-level call the stack cost
// is the exported function's own level (no caller restores it) and the peak is its
// deepest call on top of it, a re-entrant alloc included; a second top-level call on
// the same instance ends at the same figures (callTop starts it from 0).
func TestStackLevelRestoredAfterCalls(t *testing.T) {
	t.Parallel()
	const calls = 100_000
	loop, leaf, alloc := frameCost(3), frameCost(2), frameCost(4) // parameters, results and locals
	if calls*int64(leaf) <= maxStackBytes {
		t.Fatalf("%d calls of %d bytes fit the budget: the test would prove nothing", calls, leaf)
	}
	tests := []struct {
		export string
		peak   int32
	}{
		{"direct", loop + leaf},
		{"indirect", loop + leaf}, // call_indirect
		{"nested", loop + 2*leaf}, // a call whose callee calls
		{"host", loop + alloc},    // config_get's answer: alloc on top of the loop
	}
	for _, tt := range tests {
		t.Run(tt.export, func(t *testing.T) {
			t.Parallel()
			in, ctx := callLevelInstance(t)
			for call := range 2 {
				res, err := in.callTop(ctx, in.export(tt.export), calls)
				if err != nil || res[0] != calls {
					t.Fatalf("call %d: %s(%d) = %v, %v", call, tt.export, calls, res, err)
				}
				depth, peak := int32(in.stack.depth.Get()), int32(in.stack.peak.Get())
				if depth != loop || peak != tt.peak {
					t.Fatalf("after call %d of %s: stack cost %d, peak %d; want %d and %d", call, tt.export, depth, peak, loop, tt.peak)
				}
			}
		})
	}
}

// callLevelInstance returns a pooled instance of testdata/calllevel, serving a call
// (callLevelGrants) under the returned context; it is released when the test ends.
func callLevelInstance(t *testing.T) (*instance, context.Context) {
	t.Helper()
	rt := setup(t, Config{})
	m := load(t, rt, "calllevel")
	cs := &callState{m: m, parent: context.Background(), logger: hclog.NewNullLogger(), grants: callLevelGrants}
	ctx := withCallState(context.Background(), cs)
	in, err := m.pool.acquire(ctx, rt.cfg.Defaults.MemoryPages, clockRandom{})
	if err != nil {
		t.Fatal(err)
	}
	cs.in = in
	t.Cleanup(func() { m.pool.release(in, true) })
	return in, ctx
}

// TestStackRewriteKeepsIndices runs a module that calls through a table, has a start
// function and imports a host function: all still reach the right functions.
func TestStackRewriteKeepsIndices(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	m := load(t, rt, "indirect")
	var progress float64
	r := req(`{}`)
	r.Progress = func(v float64) { progress = v }
	resp, err := m.Execute(context.Background(), r)
	if err != nil || string(resp.Output) != `{"sum":3}` || progress != 0.5 {
		t.Fatalf("Execute = %v, %v, progress %v", resp, err, progress)
	}
}

// TestStackBudgetAtInstantiation loads modules recursing without end in _initialize and
// in their start function: both are refused for exhausting the stack, not as a trap.
func TestStackBudgetAtInstantiation(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"initrec", "startrec"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rt := setup(t, Config{})
			_, err := rt.Load(context.Background(), wasmFile(t, name), name+".wasm")
			if KindOf(err) != KindInvalid {
				t.Fatalf("err = %v, want KindInvalid", err)
			}
			mustContain(t, "error", err.Error(), "instantiation failed: stack overflow: call stack exhausted")
		})
	}
}

// TestStackMemoryBounded runs deep recursions side by side, as tasks with a tiny memory
// limit would, and checks what the host allocates and keeps for their stacks.
func TestStackMemoryBounded(t *testing.T) {
	rt := setup(t, Config{})
	unbounded := load(t, rt, "recursion")
	deep := load(t, rt, "deeprec")
	mem := func() runtime.MemStats {
		runtime.GC()
		var s runtime.MemStats
		runtime.ReadMemStats(&s)
		return s
	}
	const calls = 8
	r := req(`{}`)
	r.Limits.MemoryPages = 2
	deepReq := req(deepInput(10000)) // a million calls deep
	deepReq.Limits.MemoryPages = 2
	before := mem()
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() { _, _ = unbounded.Execute(context.Background(), r) })
		wg.Go(func() { _, _ = deep.Execute(context.Background(), deepReq) })
	}
	wg.Wait()
	after := mem()
	allocated := int64(after.TotalAlloc - before.TotalAlloc)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d deep recursions: %s allocated, %s retained after GC", 2*calls, formatBytes(allocated), formatBytes(retained))
	// Each call's stacks (doubling up to the budget's real size) stay well below 64 MiB;
	// without the budget a call grew wazero's stack to about 100 MB.
	if perCall := allocated / (2 * calls); perCall > 64<<20 {
		t.Fatalf("a deep recursion allocated %s on average", formatBytes(perCall))
	}
	if retained > 32<<20 {
		t.Fatalf("the host kept %s after %d deep recursions", formatBytes(retained), 2*calls)
	}
	if s := deep.Stats(); s.Idle != 0 {
		t.Fatalf("an instance whose stack grew was pooled: %+v", s)
	}
}

// TestStackRewriteRefusesInvalid loads modules that are invalid as written but would be
// valid once rewritten (they name the hidden local $mine or a hidden global, and so run
// a recursion of any depth without reaching the budget): the host refuses them as it
// refuses any module that does not compile, their rewrite (compiled while the module was
// validated) is not kept in the rewrite cache, and a second runtime on the same cache
// validates them again and refuses them again.
func TestStackRewriteRefusesInvalid(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"stackmine", "stackforge"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			wasm := wasmFile(t, name)
			for round := range 2 {
				rt := setup(t, Config{CacheDir: dir})
				m, err := rt.Load(context.Background(), wasm, name+".wasm")
				if err == nil {
					_, err := m.Execute(context.Background(), req(deepInput(3000)))
					_ = m.Close(context.Background())
					t.Fatalf("round %d: Load accepted an invalid module (a call 300,000 deep: %v)", round, err)
				}
				if KindOf(err) != KindInvalid {
					t.Fatalf("round %d: err = %v, want KindInvalid", round, err)
				}
				mustContain(t, "error", err.Error(), "does not compile")
				if n := rt.rewritten.Load(); n != 1 {
					t.Fatalf("round %d: %d rewrites, want 1 (the module validated again)", round, n)
				}
				entry := rewriteCache{dir: rewriteDir(dir), compiler: compilerTag()}.path(Hash(wasm))
				if _, err := os.Stat(entry); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("round %d: the refused module's rewrite is cached (%v)", round, err)
				}
			}
		})
	}
}

// TestStackReservedExport loads a module exporting a name the host reserves for the
// stack rewrite: it is refused with a message saying so.
func TestStackReservedExport(t *testing.T) {
	t.Parallel()
	rt := setup(t, Config{})
	_, err := rt.Load(context.Background(), wasmFile(t, "reserved"), "reserved.wasm")
	if KindOf(err) != KindInvalid {
		t.Fatalf("err = %v, want KindInvalid", err)
	}
	mustContain(t, "error", err.Error(), `exports "apflow:stack", a name reserved for the host`)
}

// TestLimitStackRefusesWhatItCannotParse checks that a module the rewrite cannot parse is
// refused rather than compiled without a stack budget, while a module without functions
// of its own (nothing to meter) passes unchanged.
func TestLimitStackRefusesWhatItCannotParse(t *testing.T) {
	t.Parallel()
	header := []byte("\x00asm\x01\x00\x00\x00")
	for _, tt := range []struct {
		name      string
		wasm      []byte
		unchanged bool
	}{
		{"no functions", header, true},
		{"truncated section", append(append([]byte(nil), header...), 0x01, 0x05, 0x01), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := limitStack(tt.wasm)
			if tt.unchanged {
				if err != nil || string(out) != string(tt.wasm) {
					t.Fatalf("limitStack = %x, %v; want the module unchanged", out, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "cannot meter") {
				t.Fatalf("limitStack = %x, %v; want a refusal", out, err)
			}
		})
	}
}

// TestReentrantAllocIsCharged fills the stack budget with guest frames to the last
// frame that fits, then has a host function answer with a re-entrant alloc: the alloc is
// charged on top of the frames of the call it serves (give does not go through
// callTop), so it crosses the budget and the call is reported as having exhausted the
// stack. The same recursion without the host call stays within the budget.
func TestReentrantAllocIsCharged(t *testing.T) {
	t.Parallel()
	frame, alloc := int64(frameCost(2)), int64(frameCost(4)) // one parameter and one result; alloc's parameter, result and two locals
	n := maxStackBytes/frame - 2                             // the export and n+1 recursive frames fit
	if used := frame * (n + 2); used > maxStackBytes || used+alloc <= maxStackBytes {
		t.Fatalf("%d frames of %d bytes: %d, with an alloc %d: the test needs the alloc to cross %d", n+2, frame, used, used+alloc, maxStackBytes)
	}
	tests := []struct {
		export    string
		exhausted bool
	}{
		{"deep", false},
		{"deephost", true},
	}
	for _, tt := range tests {
		t.Run(tt.export, func(t *testing.T) {
			t.Parallel()
			in, ctx := callLevelInstance(t)
			_, err := in.callTop(ctx, in.export(tt.export), uint64(n))
			if (err != nil) != tt.exhausted || in.stack.exhausted() != tt.exhausted {
				t.Fatalf("%s(%d): err = %v, stack exhausted %t; want exhausted %t", tt.export, n, err, in.stack.exhausted(), tt.exhausted)
			}
		})
	}
}
