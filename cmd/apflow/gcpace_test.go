package main

import (
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestGCPace: the pace is gcPercent plus the extra (extraPercent of the live heap, at
// most extraHeapBytes) once the heap it allows reaches minHeapGoal, and raised to reach
// it below that.
func TestGCPace(t *testing.T) {
	t.Parallel()
	p := &gcPacer{percent: 50, extraPercent: 25, extraBytes: 8 << 20, min: 16 << 20}
	tests := []struct {
		live uint64
		want int
	}{
		// Memory unknown: no large-heap pace.
		{0, 400},       // before any collection: the runtime's minimum, 4 MiB × 4, is the goal
		{1 << 20, 400}, // the same: 1 MiB × 5 is under the minimum
		{4 << 20, 300}, // 4 MiB may grow to 16
		{7 << 20, 129}, // rounded up: 7 MiB × 2.28 would stop short of 16
		{8 << 20, 100}, // 8 MiB may grow to 16
		{11 << 20, 75}, // 1.75 × 11 MiB is over 16: the whole extra
		{32 << 20, 75}, // the extra's quarter is 8 MiB
		{64 << 20, 62}, // 8 MiB more than gcPercent's half, rounded down
		{800 << 20, 51},
		{1 << 30, 50}, // a large heap keeps gcPercent's pace
	}
	for _, tt := range tests {
		if got := p.pace(tt.live); got != tt.want {
			t.Errorf("pace(%d MiB) = %d, want %d", tt.live>>20, got, tt.want)
		}
	}
}

// TestGCPaceLargeHeap: from largeHeapFrom of live heap on, the pace rises from gcPercent
// to largePercent at largeHeapFull, as far as the heap it lets grow stays within half of
// the process's memory, and never drops under the pace of a smaller heap.
func TestGCPaceLargeHeap(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	tests := []struct {
		name   string
		memory uint64
		live   uint64
		want   int
	}{
		{"a 100,000-task run's heap keeps gcPercent and the extra", 24 * gib, 256 << 20, 53},
		{"at largeHeapFrom, no rise yet", 24 * gib, largeHeapFrom, 52},
		{"half way", 24 * gib, (largeHeapFrom + largeHeapFull) / 2, 75},
		{"at largeHeapFull", 24 * gib, largeHeapFull, largePercent},
		{"beyond", 24 * gib, 3 * gib, largePercent},
		{"capped at gcPercent: 4 GiB may grow to half of 12", 12 * gib, 4 * gib, 50},
		{"capped under gcPercent: gcPercent stands", 6 * gib, 4 * gib, 50},
		{"no room at all: gcPercent stands", 2 * gib, 1 * gib, 50},
		{"not capped: 768 MiB may grow to 2 GiB, half of 4", 4 * gib, largeHeapFull, 100},
		{"capped between: 768 MiB may grow to 1.25 GiB, half of 2.5", 5 * gib / 2, largeHeapFull, 66},
		{"more memory than any machine", maxSystemMemory, 3 * gib, largePercent},
		{"a memory past any machine, as an unbounded function gives", math.MaxUint64, 3 * gib, largePercent},
		{"memory unknown: no rise", 0, 3 * gib, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := newGCPacer(func() uint64 { return tc.memory }).pace(tc.live); got != tc.want {
				t.Errorf("pace(%d MiB) with %d MiB of memory = %d, want %d", tc.live>>20, tc.memory>>20, got, tc.want)
			}
		})
	}
}

// TestLargePaceBounds: over live heaps and memories of every size, the large heap's pace
// is 0 or between gcPercent and largePercent, and when it is above gcPercent the heap it
// lets grow stays within half of the memory; a pacer without a rise gives none, and a
// heap of largeHeapFrom or less never has the memory read.
func TestLargePaceBounds(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	var mem uint64
	p := newGCPacer(func() uint64 { return mem })
	for k := range 100_000 {
		mem = r.Uint64N(maxSystemMemory + 1)
		if k%4 == 0 { // a memory function that does not bound what it returns
			mem = r.Uint64()
		}
		live := r.Uint64N(max(min(mem, maxSystemMemory), 1)) + 1
		if r.IntN(2) == 0 {
			live = largeHeapFrom + r.Uint64N(4*largeHeapFull)
		}
		got := p.largePace(live)
		if got != 0 && (got < 0 || got > largePercent) {
			t.Fatalf("largePace(%d) with %d of memory = %d", live, mem, got)
		}
		if got > gcPercent && live*uint64(100+got)/100 > mem/2 {
			t.Fatalf("largePace(%d) = %d lets the heap grow past half of %d", live, got, mem)
		}
		if mem >= 8*largeHeapFull && live == largeHeapFull && got != largePercent {
			t.Fatalf("largePace(%d) with %d of memory = %d, want %d", live, mem, got, largePercent)
		}
	}
	asked := false
	small := newGCPacer(func() uint64 { asked = true; return 1 << 40 })
	for _, live := range []uint64{0, 16 << 20, 256 << 20, largeHeapFrom} {
		small.pace(live)
	}
	if asked {
		t.Error("the memory was read for a heap of largeHeapFrom or less")
	}
	plenty := func() uint64 { return 1 << 40 }
	for _, q := range []*gcPacer{
		{percent: 50, largeFrom: 100, largeFull: 100, largePercent: 100, memory: plenty},
		{percent: 50, largeFrom: 100, largeFull: 200, largePercent: 40, memory: plenty},
	} {
		if got := q.largePace(150); got != 0 {
			t.Errorf("largePace of %+v = %d, want none", q, got)
		}
	}
}

// TestPaceGCFollowsCollections: once paceGC has run, each collection sets the pace for
// the live heap it leaves: raised while the heap is small, gcPercent and at most its
// extra while it holds more than minHeapGoal, raised again when that is dropped; stop
// ends it. With GOGC set it changes nothing.
func TestPaceGCFollowsCollections(t *testing.T) {
	// Not parallel: it sets the process's pace.
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	paceGC(func(string) string { return "200" }, func() uint64 { return 0 })()
	if p := gcPercentNow(); p != 100 {
		t.Fatalf("with GOGC set the pace changed to %d", p)
	}
	stop := paceGC(func(string) string { return "" }, func() uint64 { return 0 })
	waitPace := func(what string, ok func(int) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			runtime.GC()
			if p := gcPercentNow(); ok(p) {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: pace %d", what, p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	held := make([]byte, 2*minHeapGoal)
	for i := range held {
		held[i] = 1
	}
	waitPace("holding twice minHeapGoal", func(p int) bool { return p >= gcPercent && p <= gcPercent+extraPercent })
	runtime.KeepAlive(held)
	held = nil
	waitPace("after dropping it", func(p int) bool { return p > gcPercent+extraPercent })
	stop()
	debug.SetGCPercent(100)
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if p := gcPercentNow(); p != 100 {
		t.Errorf("after stop the pace is %d, want 100 as set", p)
	}
}

// TestMemoryWithin: GOMEMLIMIT bounds the memory when it is lower or the process's is
// unknown, and the result never passes maxSystemMemory, whatever GOMEMLIMIT says.
func TestMemoryWithin(t *testing.T) {
	t.Parallel()
	const gib = 1 << 30
	for _, c := range []struct {
		name  string
		mem   uint64
		limit int64
		want  uint64
	}{
		{"no limit", 8 * gib, math.MaxInt64, 8 * gib},
		{"a lower limit", 8 * gib, 3 * gib, 3 * gib},
		{"a higher limit", 8 * gib, 16 * gib, 8 * gib},
		{"unknown memory, a limit", 0, 3 * gib, 3 * gib},
		{"unknown memory, no limit", 0, math.MaxInt64, 0},
		{"unknown memory, a limit past any machine", 0, math.MaxInt64 - 1, maxSystemMemory},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := memoryWithin(c.mem, c.limit); got != c.want {
				t.Errorf("memoryWithin(%d, %d) = %d, want %d", c.mem, c.limit, got, c.want)
			}
		})
	}
}

// TestGCPolicyReadsMemoryOnlyForTheRise: the policy's log line asks for the memory only
// when the pace is apflow's; with GOGC set there is no rise to bound.
func TestGCPolicyReadsMemoryOnlyForTheRise(t *testing.T) {
	t.Parallel()
	for _, gogc := range []string{"", "80"} {
		asked := false
		kv := gcPolicy(func(k string) string {
			if k == "GOGC" {
				return gogc
			}
			return ""
		}, func() uint64 { asked = true; return 0 })
		if asked != (gogc == "") {
			t.Errorf("GOGC=%q: memory asked for: %v", gogc, asked)
		}
		if gogc == "" && kv[len(kv)-1] != "unknown" {
			t.Errorf("GOGC unset, memory unknown: the line ends %v", kv[len(kv)-1])
		}
	}
}
