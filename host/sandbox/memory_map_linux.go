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

// reserveRegion returns size bytes of address space, none of them usable until
// commitRegion makes them so: a PROT_NONE mapping, which neither the system's commit
// accounting (vm.overcommit_memory=2) nor the process's memory counts. nil when the
// system refuses it.
func reserveRegion(size uint64) []byte {
	if size == 0 || size > math.MaxInt {
		return nil
	}
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	return b
}

// commitRegion makes bytes [from, to) of a region reserveRegion returned readable and
// writable (from and to multiples of the system's page size), or reports that the
// system refused.
func commitRegion(b []byte, from, to uint64) bool {
	return unix.Mprotect(b[from:to:to], unix.PROT_READ|unix.PROT_WRITE) == nil
}

// addressSpaceLimited reports whether the process's address space is bounded (ulimit
// -v): reservations would then spend what the Go heap may need to grow, and a heap that
// cannot grow stops the process.
func addressSpaceLimited() bool {
	var l unix.Rlimit
	return unix.Getrlimit(unix.RLIMIT_AS, &l) != nil || l.Cur != unix.RLIM_INFINITY
}

// unmapRegion gives back a region mapRegion returned (any slice of it from its start).
// It cannot fail for such a region, whose address and length are the mapping's.
func unmapRegion(b []byte) {
	if cap(b) == 0 {
		return
	}
	_ = unix.Munmap(b[:cap(b)])
}
