package sandbox

import (
	"runtime"
	"runtime/metrics"
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

// TestMemoryGrowsInPlace: a memory grows in place up to the limit it was made under,
// keeps what the guest wrote, is zero past it, and refuses to grow past the limit.
func TestMemoryGrowsInPlace(t *testing.T) {
	m := newTestMemory(t, 1, 4)
	defer m.Free()
	m.buf[10] = 7
	first := &m.buf[0]
	b := m.Reallocate(3 * pageSize)
	if len(b) != 3*pageSize || &b[0] != first || b[10] != 7 || b[2*pageSize] != 0 {
		t.Fatalf("grown to %d bytes, moved %v, kept %d", len(b), &b[0] != first, b[10])
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
		{"closed", func(m *limitedMemory) []byte { old := m.buf; m.Free(); return old }},
		{"moved", func(m *limitedMemory) []byte {
			old := m.buf
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
			m.buf[5] = 9
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
			if tc.name == "closed" && m.buf != nil {
				t.Fatal("a memory freed during a call is still held after it")
			}
			m.leave() // a second leave changes nothing
			m.Free()
			if m.buf != nil {
				t.Fatal("Free without a call kept the memory")
			}
		})
	}
}

// TestMemoryIsOffTheGoHeap: on Linux an instance's memory, reserved up to its limit, is
// not allocated on the Go heap, so that the collector's goal does not count guests'
// memory (docs/performance.md, twenty-fourth pass).
func TestMemoryIsOffTheGoHeap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("linear memory is mapped apart on Linux only")
	}
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	var mems []*limitedMemory
	for range 4 {
		mems = append(mems, newTestMemory(t, 256, 1024)) // 16 MiB each, reserved to 64
	}
	metrics.Read(s)
	if grew := s[0].Value.Uint64() - before; grew > 1<<20 {
		t.Errorf("four 16 MiB memories allocated %d bytes on the Go heap", grew)
	}
	for _, m := range mems {
		m.Free()
	}
}
