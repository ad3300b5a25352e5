//go:build !linux

package sandbox

// mapRegion makes no mapping outside Linux: linear memory stays on the Go heap
// (limitedMemory.region; see memory_map_linux.go).
func mapRegion(uint64) []byte { return nil }

// unmapRegion is never called outside Linux: no region is mapped there.
func unmapRegion([]byte) {}
