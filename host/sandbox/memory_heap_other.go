//go:build !linux

package sandbox

// mapRegion makes no mapping outside Linux: linear memory stays on the Go heap
// (limitedMemory.region; see memory_map_linux.go).
func mapRegion(uint64) []byte { return nil }

// reserveRegion reserves nothing outside Linux (see memory_map_linux.go).
func reserveRegion(uint64) []byte { return nil }

// commitRegion is never called outside Linux: nothing is reserved there.
func commitRegion([]byte, uint64, uint64) bool { return false }

// addressSpaceLimited does not matter outside Linux, where nothing is reserved.
func addressSpaceLimited() bool { return true }

// unmapRegion is never called outside Linux: no region is mapped there.
func unmapRegion([]byte) {}
