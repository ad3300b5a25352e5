package sandbox

import (
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
)

// newTestMemory returns the memory wazero would get for a module whose memory starts at
// minPages, under a limit of limitPages, grown to minPages as instantiation does.
func newTestMemory(t *testing.T, minPages, limitPages uint32) *limitedMemory {
	t.Helper()
	m := &limitedMemory{}
	m.setLimit(limitPages)
	lm := m.allocator().Allocate(uint64(minPages)*pageSize, 1<<32)
	if lm != m {
		t.Fatal("the allocator did not hand out the instance's memory")
	}
	if b := m.Reallocate(uint64(minPages) * pageSize); len(b) != int(minPages)*pageSize {
		t.Fatalf("initial size %d, want %d", len(b), int(minPages)*pageSize)
	}
	return m
}

// TestMemoryGrows: a memory grows up to its limit, keeps what the guest wrote, is zero
// past it, and refuses to grow past the limit.
func TestMemoryGrows(t *testing.T) {
	m := newTestMemory(t, 1, 4)
	defer m.Free()
	m.cur.b[10] = 7
	b := m.Reallocate(3 * pageSize)
	if len(b) != 3*pageSize || b[10] != 7 || b[2*pageSize] != 0 {
		t.Fatalf("grown to %d bytes, kept %d, past it %d", len(b), b[10], b[2*pageSize])
	}
	if m.Reallocate(5*pageSize) != nil || !m.refused.Load() {
		t.Fatal("a growth past the limit was not refused")
	}
}

// TestMemoryIsNotUnmappedDuringACall: what a close (Free) or a move past the reservation
// would give back while a call may run on the memory stays usable until the call ends
// (leave); without a call, Free gives it back at once.
func TestMemoryIsNotUnmappedDuringACall(t *testing.T) {
	cases := []struct {
		name string
		act  func(m *limitedMemory) []byte // during the call; returns the memory in use before
	}{
		{"closed", func(m *limitedMemory) []byte { old := m.cur.b; m.Free(); return old }},
		{"moved", func(m *limitedMemory) []byte {
			old := m.cur.b
			m.setLimit(16)
			if b := m.Reallocate(8 * pageSize); len(b) != 8*pageSize || b[5] != 9 {
				t.Fatalf("moved memory: %d bytes, kept %d", len(b), b[5])
			}
			return old
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMemory(t, 2, 2)
			m.cur.b[5] = 9
			m.enter()
			old := tc.act(m)
			old[6] = 1 // still mapped: a call on it would not fault
			if old[5] != 9 {
				t.Fatal("the memory changed during the call")
			}
			m.leave()
			if len(m.retired) != 0 || m.freed {
				t.Fatalf("after the call: %d regions left to unmap, freed %v", len(m.retired), m.freed)
			}
			if tc.name == "closed" && m.cur.b != nil {
				t.Fatal("a memory freed during a call is still held after it")
			}
			m.leave() // a second leave changes nothing
			m.Free()
			if m.cur.b != nil {
				t.Fatal("Free without a call kept the memory")
			}
		})
	}
}

// TestMemoryIsOffTheGoHeap: on Linux an instance's memory is not allocated on the Go
// heap, so that the collector's goal does not count guests' memory (docs/performance.md,
// twenty-fourth pass).
func TestMemoryIsOffTheGoHeap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linear memory is mapped apart on Linux only")
	}
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	var mems []*limitedMemory
	for range 4 {
		mems = append(mems, newTestMemory(t, 256, 1024)) // 16 MiB each
	}
	metrics.Read(s)
	if grew := s[0].Value.Uint64() - before; grew > 1<<20 {
		t.Errorf("four 16 MiB memories allocated %d bytes on the Go heap", grew)
	}
	for _, m := range mems {
		m.Free()
	}
}

// TestFailedInstantiationFreesItsMemory: a module whose instantiation fails after its
// memory was made (a data segment out of bounds, which wazero reports without closing
// the module) leaves no memory behind: a mapping, unlike a Go slice, is not collected.
// Twenty failed loads of a module of 16 MiB would leave 320 MiB of address space.
func TestFailedInstantiationFreesItsMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linear memory is mapped apart on Linux only")
	}
	rt := setup(t, Config{})
	wasm := wasmFile(t, "oobdata")
	before := vmSize(t)
	for range 20 {
		if _, err := rt.Load(context.Background(), wasm, "oobdata.wasm"); err == nil {
			t.Fatal("a module whose data is out of bounds loaded")
		}
	}
	if grew := vmSize(t) - before; grew > 100<<20 {
		t.Errorf("twenty failed instantiations left %d MiB of address space", grew>>20)
	}
}

// vmSize is the process's address space in bytes (VmSize in /proc/self/status).
func vmSize(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}

// TestMemoryWhenNotMapped: a first region the system does not map (or a platform
// without mappings) is a Go slice, which grows as such; a growth of mapped memory the
// system refuses is out of memory for the guest (memory.grow fails), never a heap
// allocation that could stop the process, and leaves the memory as it was.
func TestMemoryWhenNotMapped(t *testing.T) {
	refuse := func(uint64) []byte { return nil }
	cases := []struct {
		name    string
		mapFn   func(n int) func(uint64) []byte // for the n-th region asked for (1: the first)
		grows   bool
		onHeap  bool
		refused bool
	}{
		{"first refused", func(int) func(uint64) []byte { return refuse }, true, true, false},
		{"growth refused", func(n int) func(uint64) []byte {
			if n == 1 {
				return mapRegion
			}
			return refuse
		}, runtime.GOOS != "linux", runtime.GOOS != "linux", runtime.GOOS == "linux"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			m := &limitedMemory{mapRegion: func(size uint64) []byte { n++; return tc.mapFn(n)(size) }}
			m.setLimit(8)
			m.allocator().Allocate(pageSize, 1<<32)
			m.Reallocate(pageSize)[3] = 4
			m.enter()
			b := m.Reallocate(4 * pageSize)
			m.leave()
			if grew := b != nil; grew != tc.grows || m.refused.Load() != tc.refused || m.unmapped.Load() != tc.refused {
				t.Fatalf("growth: grew %v, refused %v, by the system %v", grew, m.refused.Load(), m.unmapped.Load())
			}
			if tc.refused {
				_, msg := describe(context.Background(), context.Background(), errors.New("wasm error: unreachable"), 0, m, nil)
				mustContain(t, "the guest's error", msg, "the host could not map more memory for the plugin, below its memory limit 8 pages")
			}
			if m.cur.mapped == tc.onHeap || m.cur.b[3] != 4 {
				t.Fatalf("mapped %v, kept %d", m.cur.mapped, m.cur.b[3])
			}
			m.Free()
			if m.cur.b != nil {
				t.Fatal("Free kept the memory")
			}
		})
	}
}

// TestMemoryGrowsInItsReservation: a memory with a reservation grows in place up to it,
// its region never moving (so no old region is held until the call ends: a guest growing
// to its limit holds the limit, not about twice it), and refuses a growth past its limit.
func TestMemoryGrowsInItsReservation(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linear memory is mapped apart on Linux only")
	}
	maps, reserves := 0, 0
	m := &limitedMemory{reserve: 64 * pageSize,
		mapRegion:     func(size uint64) []byte { maps++; return mapRegion(size) },
		reserveRegion: func(size uint64) []byte { reserves++; return reserveRegion(size) }}
	m.setLimit(32)
	m.allocator().Allocate(pageSize, 1<<32)
	first := &m.Reallocate(pageSize)[0]
	*first = 5
	m.enter()
	for pages := uint64(2); pages <= 32; pages *= 2 {
		b := m.Reallocate(pages * pageSize)
		if len(b) != int(pages)*pageSize || &b[0] != first || b[0] != 5 || b[len(b)-1] != 0 {
			t.Fatalf("grown to %d pages: %d bytes, moved %v, kept %d", pages, len(b), &b[0] != first, b[0])
		}
	}
	if len(m.retired) != 0 || maps != 0 || reserves != 1 || m.cur.committed != 32*pageSize {
		t.Fatalf("%d regions retired, %d mapped, %d reserved, %d bytes usable: the memory moved", len(m.retired), maps, reserves, m.cur.committed)
	}
	if m.Reallocate(33*pageSize) != nil || !m.refused.Load() {
		t.Fatal("a growth past the limit was not refused")
	}
	m.leave()
	m.Free()
}

// TestMemoryReservationRefused: where the system refuses the reservation (ulimit -v),
// the memory is what wazero asks for, and moves as it grows.
func TestMemoryReservationRefused(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linear memory is mapped apart on Linux only")
	}
	m := &limitedMemory{reserve: 64 * pageSize, reserveRegion: func(uint64) []byte { return nil }}
	m.setLimit(8)
	m.allocator().Allocate(pageSize, 1<<32)
	m.Reallocate(pageSize)[0] = 5
	if !m.cur.mapped || cap(m.cur.b) != pageSize {
		t.Fatalf("first region: mapped %v, %d bytes", m.cur.mapped, cap(m.cur.b))
	}
	if b := m.Reallocate(4 * pageSize); len(b) != 4*pageSize || b[0] != 5 {
		t.Fatal("the memory did not grow")
	}
	m.Free()
}
