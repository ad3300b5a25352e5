package sandbox

import (
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// limitedMemory backs one instance's linear memory and refuses to grow it past a limit
// that can change between executions (see doc.go, "Memory limits"). wazero asks it for
// every memory.grow; returning nil makes memory.grow return -1 to the guest.
//
// The limit is read from an atomic so that the pool can set it, before an execution, for
// an instance created earlier under another task's limit.
//
// Where the platform allows it (memory_map_linux.go), the memory is a private anonymous
// mapping outside the Go heap: pages the guest never writes cost no memory, the
// collector does not count the guest's memory in its goal (a Go guest's instance has 16
// MiB), and a closed instance's memory goes back to the system when it closes instead of
// at a later collection. The first mapping reserves the address space the memory may
// ever need (reserve: the operator's ceiling of a task's memory, within the module's
// maximum), inaccessible, and each growth makes its new pages usable (commitRegion), so
// that the memory grows in place: no copy, and no second region that the old one would
// have to outlive until the call ends (with a region per doubling, a guest growing to its
// limit held about twice the limit). Neither the system's commit accounting nor the
// process's memory counts a reserved page before its growth. Where the process's address
// space is bounded (ulimit -v: reservations would spend what the Go heap may need) there
// is no reservation, and where the system refuses one, the first mapping is what wazero
// asks for and growths move. A first mapping the system refuses falls back to the Go
// heap; a growth it refuses is out of memory for the guest. A mapping is unmapped, and
// reading it then faults, so:
//   - everything read out of guest memory is copied before the call ends (guestBytes,
//     Module.readPacked, logWriter);
//   - no region is unmapped while a call may run on it: between enter and leave (the
//     instance's arm and disarm) Free and a move only note what to unmap, and leave
//     unmaps it. A guest that exits (proc_exit) closes its instance during its own
//     call; Runtime.Close closes instances only once no call is in progress.
//
// Unlike a Go slice, a mapping is not collected: an instance whose instantiation fails
// after its memory was made must Free it (Module.instantiate).
type limitedMemory struct {
	cur      region        // the memory: its bytes are the guest's (len) and the reservation (cap)
	maxBytes uint64        // the module's declared maximum (or 4 GiB)
	reserve  uint64        // the address space the first mapping reserves (within maxBytes); 0: none
	limit    atomic.Uint64 // current limit in bytes
	refused  atomic.Bool   // a growth was refused since the last reset
	// unmapped is set with refused when the system refused to map a growth within the
	// limit (its address space or commit exhausted), not the limit.
	unmapped atomic.Bool
	// mapRegion maps size bytes, or returns nil (nil: the platform's mapRegion), and
	// reserveRegion reserves them (nil: the platform's reserveRegion); tests replace them.
	mapRegion, reserveRegion func(size uint64) []byte

	mu      sync.Mutex
	busy    bool     // a call may run on cur (enter..leave)
	freed   bool     // wazero freed the memory during a call: leave unmaps cur
	retired []region // regions cur moved out of during a call: leave unmaps them
}

// region is memory made for a limitedMemory: a mapping, or a Go slice when mapped is
// false. A reserved mapping's bytes are usable up to committed only.
type region struct {
	b         []byte
	mapped    bool
	reserved  bool
	committed uint64
}

// free gives back r if it is a mapping; a Go slice is left to the collector.
func (r region) free() {
	if r.mapped {
		unmapRegion(r.b)
	}
}

// region returns size zeroed bytes: a mapping where the platform makes one, else a Go
// slice. A growth of mapped memory that the system refuses fails (ok false: out of
// memory for the guest) instead of falling back to the heap, where the same shortage
// of address space or commit would stop the whole process; a first region cannot fail
// (wazero takes no nil), and falls back.
func (m *limitedMemory) region(size uint64, growth bool) (r region, ok bool) {
	if b := m.mapFn()(size); b != nil {
		return region{b: b, mapped: true}, true
	}
	if growth && m.cur.mapped {
		return region{}, false
	}
	return region{b: make([]byte, size)}, true
}

// mapFn is the function that maps regions: mapRegion, or a test's.
func (m *limitedMemory) mapFn() func(size uint64) []byte {
	if m.mapRegion != nil {
		return m.mapRegion
	}
	return mapRegion
}

// allocator returns the experimental.MemoryAllocator that hands m to wazero. An instance
// has at most one memory, so the allocator is called at most once.
func (m *limitedMemory) allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capBytes, maxBytes uint64) experimental.LinearMemory {
		m.maxBytes = maxBytes
		if reserve := min(m.reserve, maxBytes); reserve > capBytes {
			reserveFn := m.reserveRegion
			if reserveFn == nil {
				reserveFn = reserveRegion
			}
			if b := reserveFn(reserve); b != nil {
				m.cur = region{b: b[:0], mapped: true, reserved: true}
				return m
			}
		}
		// The minimum is checked against the limit before instantiation, so the initial
		// Reallocate (to the minimum) always succeeds.
		m.cur, _ = m.region(capBytes, false)
		m.cur.b = m.cur.b[:0]
		return m
	})
}

// setLimit sets the limit in pages and clears the refused flags.
func (m *limitedMemory) setLimit(pages uint32) {
	m.limit.Store(uint64(pages) * pageSize)
	m.refused.Store(false)
	m.unmapped.Store(false)
}

// Reallocate implements experimental.LinearMemory. wazero only ever grows a memory.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.limit.Load() || size > m.maxBytes {
		m.refused.Store(true)
		return nil
	}
	if size <= uint64(cap(m.cur.b)) {
		// Bytes between len and cap were never exposed to the guest and are still zero.
		if m.cur.reserved && size > m.cur.committed {
			if !commitRegion(m.cur.b[:cap(m.cur.b)], m.cur.committed, size) {
				m.unmapped.Store(true)
				m.refused.Store(true)
				return nil
			}
			m.cur.committed = size
		}
		m.cur.b = m.cur.b[:size]
		return m.cur.b
	}
	// Grow geometrically, but never reserve more than the limit allows; the old region
	// goes once no call may run on it.
	newCap := max(size, min(2*uint64(cap(m.cur.b)), m.limit.Load(), m.maxBytes))
	r, ok := m.region(newCap, true)
	if !ok {
		m.unmapped.Store(true)
		m.refused.Store(true)
		return nil
	}
	r.b = r.b[:size]
	copy(r.b, m.cur.b)
	m.mu.Lock()
	old := m.cur
	m.cur = r
	if m.busy {
		m.retired = append(m.retired, old)
	} else {
		old.free()
	}
	m.mu.Unlock()
	return m.cur.b
}

// Free implements experimental.LinearMemory: wazero calls it when the instance closes.
// Module.instantiate calls it too when instantiation failed after the memory was made;
// a second Free does nothing.
func (m *limitedMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy {
		m.freed = true
		return
	}
	m.cur.free()
	m.cur = region{}
}

// enter marks the start of a call on the memory: until leave, nothing is unmapped.
func (m *limitedMemory) enter() {
	m.mu.Lock()
	m.busy = true
	m.mu.Unlock()
}

// leave marks the end of a call (it may be called again after it): it unmaps what Free
// and Reallocate left to it.
func (m *limitedMemory) leave() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.busy = false
	for _, r := range m.retired {
		r.free()
	}
	m.retired = nil
	if m.freed {
		m.cur.free()
		m.cur, m.freed = region{}, false
	}
}
