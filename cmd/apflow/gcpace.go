package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// gcPercent is the collector's pace apflow sets when GOGC is not set, for heaps of some
// tens to hundreds of MiB (smaller ones get more: extraPercent, minHeapGoal; and so do
// larger ones: largePercent): the heap may grow half its live size between collections
// instead of all of it. It trades time for memory. When it was chosen, runs of 10,000 and
// 100,000 tasks peaked a fifth to a quarter lower in RSS at the same speed
// (docs/performance.md, "The product path, second pass"). Measured again in the
// nineteenth pass, a 10,000-task run took 7% and 15% longer than at GOGC=75 and 100,
// which peaked at 91-96 and 99-105 MiB instead of 81-87, and a 100,000-task run at
// GOGC=75 peaked at up to 430 MiB instead of 340-344: the pace keeps large runs within
// the memory the project aims at. GOGC, when set, wins (docs/configuration.md, "Memory").
const gcPercent = 50

// extraPercent and extraHeapBytes bound how much further than gcPercent allows the heap
// may grow between collections: extraPercent of the live heap, at most extraHeapBytes.
// A live heap of 32 MiB or less (a run of 10,000 tasks) is paced as at GOGC=75, a larger
// one gets 8 MiB more than at gcPercent, a share that shrinks as it grows. Against
// gcPercent alone, a 10,000-task run took 5% less time and peaked at 80-90 MiB instead of
// 74-81, a 100,000-task run 5% less and 339-363 MiB instead of 325-329, both within the
// memory the project aims at (docs/performance.md, twentieth pass).
const (
	extraPercent   = 25
	extraHeapBytes = 8 << 20
)

// minHeapGoal is the smallest heap the collector lets the process grow to before it
// collects, when GOGC is not set. At gcPercent alone, a process whose live heap is a
// few MiB (a command, a run of a thousand tasks) collects every few MiB it allocates:
// a 1,000-task run collected 17 times (8 with the floor). Under minHeapGoal the
// heap is not collected; from minHeapGoal/1.5 of live heap on the pace is gcPercent's,
// so larger runs peak where they did. A floor of 32 MiB cost more than it saved: fresh
// pages are not free (docs/performance.md, "The product path, fifteenth pass").
const minHeapGoal = 16 << 20

// largeHeapFrom, largeHeapFull and largePercent pace a large live heap. At one percent,
// the collector marks about as much per byte allocated whatever the live heap's size;
// but the extra and the floor give a run of 10,000 tasks (31-57 MiB of live heap) the
// pace of GOGC=64 to 75, and gcPercent alone would give a run of a million tasks
// GOGC=50, so that a task of the larger run would pay its collector a third to half as
// much again. From a live heap of largeHeapFrom on, the pace rises from gcPercent's to
// largePercent's, reached at largeHeapFull, as far as the heap it lets grow stays within
// half of the memory the process may use (gcMemory; unknown memory: no rise). A run of
// 100,000 tasks, whose live heap stays under 256 MiB, keeps gcPercent's pace and its
// memory goal; a million-task tree takes more memory and less time (docs/performance.md,
// thirty-second pass).
const (
	largeHeapFrom = 384 << 20
	largeHeapFull = 768 << 20
	largePercent  = 100
)

// gcPacer keeps the collector's pace at percent, plus up to extraPercent and extraBytes
// of the live heap, raised after each collection so that the next one comes no earlier
// than a heap of min bytes, and raised for a large heap (largePace).
type gcPacer struct {
	percent      int
	extraPercent int
	extraBytes   uint64
	min          uint64
	// largeFrom, largeFull and largePercent are largeHeapFrom, largeHeapFull and
	// largePercent; memory returns what the process may use (0 when unknown), asked
	// only for a heap over largeFrom: most processes never have one.
	largeFrom, largeFull uint64
	largePercent         int
	memory               func() uint64
	live                 []metrics.Sample // the live heap after the last collection
	// mu is held by adjust while it sets the pace, and by stop: once stop has
	// returned, no adjust sets it again.
	mu      sync.Mutex
	stopped bool
}

// paceGC applies gcPercent, its extra, minHeapGoal and the large heap's rise (within
// half of what memory returns: gcMemory) unless GOGC is set, in which case the Go
// runtime's pace stands as GOGC sets it. The pacer re-evaluates the pace after every
// collection (a cleanup of an object each collection frees) until stop is called, which
// leaves the pace as it is then; GOMEMLIMIT, when set, still caps the heap. The process
// paces once, in main; stop is for tests.
func paceGC(getenv func(string) string, memory func() uint64) (stop func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	p := newGCPacer(memory)
	p.live = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	p.adjust()
	return func() {
		p.mu.Lock()
		p.stopped = true
		p.mu.Unlock()
	}
}

// newGCPacer returns the pacer of the constants above, for a process that may use the
// bytes memory returns (0: unknown).
func newGCPacer(memory func() uint64) *gcPacer {
	return &gcPacer{percent: gcPercent, extraPercent: extraPercent, extraBytes: extraHeapBytes, min: minHeapGoal,
		largeFrom: largeHeapFrom, largeFull: largeHeapFull, largePercent: largePercent, memory: memory}
}

// gcSentinel is allocated for each collection cycle; its cleanup runs once a
// collection has found it unreachable. It holds a pointer so that it is an allocation
// of its own (the tiny allocator packs pointer-free objects together).
type gcSentinel struct{ _ *byte }

// adjust sets the pace for the live heap now and arms itself for the next collection.
func (p *gcPacer) adjust() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	metrics.Read(p.live)
	debug.SetGCPercent(p.pace(p.live[0].Value.Uint64()))
	runtime.AddCleanup(&gcSentinel{}, func(p *gcPacer) { p.adjust() }, p)
}

// pace is the collector's percent for a live heap of live bytes: percent plus the extra
// (extraPercent of live, at most extraBytes), or more when the heap it allows would be
// under min. The runtime's goal is the larger of live grown by the percent (stacks and
// globals too, so a little more) and its heap minimum, 4 MiB scaled by the percent: the
// raised percent is capped so that the minimum stays at most min too.
func (p *gcPacer) pace(live uint64) int {
	const runtimeHeapMinimum = 4 << 20
	live = max(live, 1) // before the first collection the runtime reports 0
	floor := min(int((p.min*100+live-1)/live)-100, int(p.min*100/runtimeHeapMinimum))
	extra := int(min(uint64(p.extraPercent), p.extraBytes*100/live))
	return max(floor, p.percent+extra, p.largePace(live))
}

// largePace is the pace of a live heap of more than largeFrom bytes: from percent at
// largeFrom up to largePercent at largeFull and beyond, capped so that the heap it lets
// grow, live × (100 + pace) / 100, stays within half of memory (read at each
// collection of such a heap: /proc/meminfo, /proc/self/cgroup and the limit files, about
// 0.1 ms; the mounts once, mountsOnce); 0 for a smaller heap, when memory is unknown
// or too small for any rise, or when the pacer has no rise (largeFull not above
// largeFrom, largePercent not above percent).
func (p *gcPacer) largePace(live uint64) int {
	if live <= p.largeFrom || p.largeFull <= p.largeFrom || p.largePercent <= p.percent {
		return 0
	}
	room := min(p.memory(), maxSystemMemory) / 2
	if room <= live {
		return 0
	}
	rise := uint64(p.largePercent-p.percent) * (min(live, p.largeFull) - p.largeFrom) / (p.largeFull - p.largeFrom)
	return int(min(uint64(p.percent)+rise, (room-live)*100/live))
}

// gcMemory is the memory the collector's pace keeps within (gcPacer.memory): what the
// process may use (systemMemory, read with read, its cgroups under mounts), or GOMEMLIMIT
// when it is set lower; at most maxSystemMemory, as systemMemory, GOMEMLIMIT included.
func gcMemory(read func(string) ([]byte, error), mounts func() []cgroupMount) uint64 {
	return memoryWithin(systemMemory(read, mounts), debug.SetMemoryLimit(-1))
}

// memoryWithin is gcMemory of a process that may use mem bytes (0: unknown) under a
// GOMEMLIMIT of limit bytes (math.MaxInt64: none).
func memoryWithin(mem uint64, limit int64) uint64 {
	if limit != math.MaxInt64 && limit >= 0 && (mem == 0 || uint64(limit) < mem) {
		mem = uint64(limit)
	}
	return min(mem, maxSystemMemory)
}

// gcPercentNow is the collector's percent in force, as the runtime reports it.
func gcPercentNow() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// gcPolicy is the collector's pace as configured, as the key-value pairs of a log line:
// GOGC's percent and no extra, floor nor large heap's rise ("none") when GOGC is set,
// else gcPercent, its extra (extraPercent, extraHeapBytes in bytes), minHeapGoal (in
// bytes), the large heap's rise (largePercent, from largeHeapFrom to largeHeapFull
// bytes) and the memory whose half it stays within (memory's bytes, asked for only
// then; "unknown" for 0).
func gcPolicy(getenv func(string) string, memory func() uint64) []any {
	if getenv("GOGC") != "" {
		return []any{"gc_percent", gcPercentNow(), "gc_extra_percent", "none", "gc_extra_max", "none", "gc_min_heap", "none",
			"gc_large_percent", "none"}
	}
	bytes := memory()
	mem := any(bytes)
	if bytes == 0 {
		mem = "unknown"
	}
	return []any{"gc_percent", gcPercent, "gc_extra_percent", extraPercent, "gc_extra_max", extraHeapBytes,
		"gc_min_heap", minHeapGoal, "gc_large_percent", largePercent, "gc_large_from", largeHeapFrom,
		"gc_large_full", largeHeapFull, "gc_large_memory", mem}
}
