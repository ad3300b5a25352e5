//go:build !linux

package sandbox

// mapRegion returns size zeroed bytes on the Go heap: outside Linux, linear memory is
// not mapped apart (see limitedMemory and memory_map_linux.go).
func mapRegion(size uint64) []byte { return make([]byte, size) }

// unmapRegion leaves a region to the collector.
func unmapRegion([]byte) {}
