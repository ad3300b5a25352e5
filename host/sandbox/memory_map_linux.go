package sandbox

import (
	"math"

	"golang.org/x/sys/unix"
)

// mapRegion returns size zeroed bytes of a private anonymous mapping, outside the Go
// heap (see limitedMemory), or nil when the system refuses it (limitedMemory.region then
// uses the Go heap for a first region, and refuses a growth). Pages are backed by
// memory only once written.
func mapRegion(size uint64) []byte {
	if size == 0 || size > math.MaxInt {
		return nil
	}
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	return b
}

// unmapRegion gives back a region mapRegion returned (any slice of it from its start).
// It cannot fail for such a region, whose address and length are the mapping's.
func unmapRegion(b []byte) {
	if cap(b) == 0 {
		return
	}
	_ = unix.Munmap(b[:cap(b)])
}
