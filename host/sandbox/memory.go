package sandbox

import (
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// limitedMemory backs one instance's linear memory and refuses to grow it past a limit
// that can change between executions (see doc.go, "Memory limits"). wazero asks it for
// every memory.grow; returning nil makes memory.grow return -1 to the guest.
//
// The limit is read from an atomic so that the pool can set it, before an execution, for
// an instance created earlier under another task's limit.
type limitedMemory struct {
	buf      []byte
	maxBytes uint64        // the module's declared maximum (or 4 GiB)
	limit    atomic.Uint64 // current limit in bytes
	refused  atomic.Bool   // a growth was refused since the last reset
}

// allocator returns the experimental.MemoryAllocator that hands m to wazero. An instance
// has at most one memory, so the allocator is called at most once.
func (m *limitedMemory) allocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(capBytes, maxBytes uint64) experimental.LinearMemory {
		m.maxBytes = maxBytes
		// The minimum is checked against the limit before instantiation, so the initial
		// Reallocate (to the minimum) always succeeds.
		m.buf = make([]byte, 0, capBytes)
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
	// Grow geometrically, but never reserve more than the limit allows.
	newCap := max(size, min(2*uint64(cap(m.buf)), m.limit.Load(), m.maxBytes))
	nb := make([]byte, size, newCap)
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *limitedMemory) Free() { m.buf = nil }
