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
// mapping outside the Go heap, reserved up to the limit at once: pages the guest never
// touches cost no memory, the collector does not count the guest's memory in its goal
// (a Go guest's instance has 16 MiB), and a closed instance's memory goes back to the
// system when it closes instead of at a later collection. Such memory is unmapped, and
// reading it then faults, so:
//   - everything read out of guest memory is copied before the call ends (guestBytes,
//     Module.result);
//   - no region is unmapped while a call may run on it: between enter and leave (the
//     pool's arm and disarm) Free and a move (Reallocate past the reservation) only note
//     what to unmap, and leave unmaps it. wazero frees an instance interrupted by its
//     context from the call's own goroutine once the guest has stopped, but a runtime
//     closed at shutdown frees every instance from the closing goroutine.
type limitedMemory struct {
	buf      []byte
	maxBytes uint64        // the module's declared maximum (or 4 GiB)
	limit    atomic.Uint64 // current limit in bytes
	refused  atomic.Bool   // a growth was refused since the last reset

	mu      sync.Mutex
	busy    bool     // a call may run on buf (enter..leave)
	freed   bool     // wazero freed the memory during a call: leave unmaps buf
	retired [][]byte // regions buf moved out of during a call: leave unmaps them
}

// allocator returns the experimental.MemoryAllocator that hands m to wazero. An instance
// has at most one memory, so the allocator is called at most once. The region is
// reserved up to the limit (at least capBytes), so that a growth within the limit never
// moves the memory.
func (m *limitedMemory) allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capBytes, maxBytes uint64) experimental.LinearMemory {
		m.maxBytes = maxBytes
		// The minimum is checked against the limit before instantiation, so the initial
		// Reallocate (to the minimum) always succeeds.
		m.buf = mapRegion(max(capBytes, min(m.limit.Load(), maxBytes)))[:0] // nil if refused
		return m
	})
}

// setLimit sets the limit in pages and clears the refused flag.
func (m *limitedMemory) setLimit(pages uint32) {
	m.limit.Store(uint64(pages) * pageSize)
	m.refused.Store(false)
}

// Reallocate implements experimental.LinearMemory. wazero only ever grows a memory.
func (m *limitedMemory) Reallocate(size uint64) []byte {
	if size > m.limit.Load() || size > m.maxBytes {
		m.refused.Store(true)
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		// Bytes between len and cap were never exposed to the guest and are still zero.
		m.buf = m.buf[:size]
		return m.buf
	}
	// Past the reservation (the limit rose since the memory was made): move to a new
	// region reserved up to the limit. A region the system refuses is out of memory.
	nb := mapRegion(max(size, min(m.limit.Load(), m.maxBytes)))
	if nb == nil {
		m.refused.Store(true)
		return nil
	}
	nb = nb[:size]
	copy(nb, m.buf)
	old := m.buf
	m.buf = nb
	m.mu.Lock()
	if m.busy {
		m.retired = append(m.retired, old)
	} else {
		unmapRegion(old)
	}
	m.mu.Unlock()
	return m.buf
}

// Free implements experimental.LinearMemory: wazero calls it when the instance closes.
func (m *limitedMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy {
		m.freed = true
		return
	}
	unmapRegion(m.buf)
	m.buf = nil
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
		unmapRegion(r)
	}
	m.retired = nil
	if m.freed {
		unmapRegion(m.buf)
		m.buf, m.freed = nil, false
	}
}
