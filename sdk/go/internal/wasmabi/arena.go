package wasmabi

import "unsafe"

// Arena pins byte buffers handed across the ABI boundary so that the Go garbage collector
// neither frees nor reuses them while the host may still read or write them. A buffer is
// identified by the address of its first byte. The zero Arena is not usable; use
// [NewArena].
//
// Ownership rules implemented here (docs/abi.md, "Conventions"):
//   - Alloc pins a buffer until Free is called with its address.
//   - Result pins the buffer of a packed result until the next call to Release, which the
//     exports call at the start of every guest call.
//
// An Arena is not safe for concurrent use; a wasm instance is single-threaded.
type Arena struct {
	pins   map[uintptr][]byte
	result uintptr
}

// NewArena returns an empty arena.
func NewArena() *Arena {
	return &Arena{pins: make(map[uintptr][]byte)}
}

// Alloc returns a new pinned buffer of size bytes and its address. The address is 0 only
// for size 0, which pins nothing.
func (a *Arena) Alloc(size int) (uintptr, []byte) {
	if size <= 0 {
		return 0, nil
	}
	b := make([]byte, size)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	a.pins[p] = b
	return p, b
}

// Free unpins the buffer at ptr. Unknown addresses (already freed, never allocated, or 0)
// are ignored, so a host that frees a result buffer itself does no harm.
func (a *Arena) Free(ptr uintptr) {
	delete(a.pins, ptr)
	if a.result == ptr {
		a.result = 0
	}
}

// Bytes returns the first n bytes of the pinned buffer at ptr, or false when ptr is not a
// live buffer of this arena or n exceeds its size. It is how exports read buffers the host
// filled, without trusting the host's pointer arithmetic.
func (a *Arena) Bytes(ptr uintptr, n int) ([]byte, bool) {
	b, ok := a.pins[ptr]
	if !ok || n < 0 || n > len(b) {
		return nil, false
	}
	return b[:n], true
}

// Result pins data as the current call's result and returns its address and length. The
// buffer stays valid until the next Release. Empty data yields (0, 0): "nothing".
func (a *Arena) Result(data []byte) (uintptr, int) {
	if len(data) == 0 {
		return 0, 0
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	a.pins[p] = data
	a.result = p
	return p, len(data)
}

// Release frees the previous call's result, if any.
func (a *Arena) Release() {
	if a.result != 0 {
		delete(a.pins, a.result)
		a.result = 0
	}
}

// Live reports how many buffers are pinned; tests use it to detect leaks.
func (a *Arena) Live() int { return len(a.pins) }

// Pack packs a guest address and a length into the i64 the ABI returns: (ptr << 32) | len.
func Pack(ptr uint32, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack splits a packed i64 into address and length.
func Unpack(v uint64) (ptr uint32, n uint32) { return uint32(v >> 32), uint32(v) }
