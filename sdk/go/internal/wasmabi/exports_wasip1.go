//go:build wasip1

package wasmabi

import "unsafe"

// arena is the instance's only allocator state. A wasm instance runs one call at a time,
// so a single arena per instance is the natural scope; it lives as long as the instance.
var arena = NewArena()

//go:wasmexport alloc
func alloc(size uint32) uint32 {
	arena.Release()
	p, _ := arena.Alloc(int(size))
	return uint32(p)
}

//go:wasmexport dealloc
func dealloc(ptr uint32, size uint32) {
	arena.Free(uintptr(ptr))
}

// Enter must be called first by every export other than alloc and dealloc: it frees the
// previous call's result, which the host has copied out by now.
func Enter() { arena.Release() }

// Input returns the buffer the host filled (obtained from alloc) and hands its ownership
// back to the Go heap. It returns false when (ptr, n) is not a live alloc buffer.
func Input(ptr, n uint32) ([]byte, bool) {
	if ptr == 0 && n == 0 {
		return nil, true
	}
	b, ok := arena.Bytes(uintptr(ptr), int(n))
	if ok {
		arena.Free(uintptr(ptr))
	}
	return b, ok
}

// Return pins data until the next guest call and packs its address and length.
func Return(data []byte) uint64 {
	p, n := arena.Result(data)
	return Pack(uint32(p), uint32(n))
}

// take copies out a buffer the host returned from a host function (obtained from alloc)
// and frees it, as docs/abi.md asks.
func take(packed uint64) []byte {
	p, n := Unpack(packed)
	if p == 0 || n == 0 {
		return nil
	}
	b, ok := arena.Bytes(uintptr(p), int(n))
	arena.Free(uintptr(p))
	if !ok {
		return nil
	}
	return b
}

//go:wasmimport apflow log
func hostLog(level uint32, ptr unsafe.Pointer, n uint32)

//go:wasmimport apflow progress
func hostProgress(v float64)

//go:wasmimport apflow http_request
func hostHTTP(ptr unsafe.Pointer, n uint32) uint64

//go:wasmimport apflow config_get
func hostConfig(ptr unsafe.Pointer, n uint32) uint64

//go:wasmimport apflow store_call
func hostStore(ptr unsafe.Pointer, n uint32) uint64

//go:wasmimport apflow sleep_ms
func hostSleepMS(ms int64) int32

//go:wasmimport apflow kv_get
func hostKVGet(ptr unsafe.Pointer, n uint32) uint64

//go:wasmimport apflow kv_set
func hostKVSet(ptr unsafe.Pointer, n uint32) uint64

//go:wasmimport apflow kv_delete
func hostKVDelete(ptr unsafe.Pointer, n uint32) uint64

//go:wasmimport apflow kv_list
func hostKVList(ptr unsafe.Pointer, n uint32) uint64

//go:wasmimport apflow llm_complete
func hostLLMComplete(ptr unsafe.Pointer, n uint32) uint64

// Host implements the SDK's Host interface with the "apflow" host module's imports.
type Host struct{}

// Log sends one log line at level (0 trace … 4 error).
func (Host) Log(level int, msg string) {
	b := []byte(msg)
	hostLog(uint32(level), unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)))
}

// Progress reports the task's progress.
func (Host) Progress(v float64) { hostProgress(v) }

// HTTPRequest performs http_request with a JSON request and returns the JSON response.
func (Host) HTTPRequest(req []byte) []byte {
	return take(hostHTTP(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req))))
}

// ConfigGet returns the value of a granted config key.
func (Host) ConfigGet(key string) ([]byte, bool) {
	b := []byte(key)
	v := take(hostConfig(unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))))
	return v, v != nil
}

// StoreCall performs store_call with a JSON request and returns the JSON response.
func (Host) StoreCall(req []byte) []byte {
	return take(hostStore(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req))))
}

// SleepMS performs sleep_ms and returns the host's status.
func (Host) SleepMS(ms int64) int32 { return hostSleepMS(ms) }

// LLMComplete performs llm_complete with a JSON request and returns the JSON answer.
func (Host) LLMComplete(req []byte) []byte {
	return take(hostLLMComplete(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req))))
}

// KVCall performs kv_get, kv_set, kv_delete or kv_list with a JSON request and returns
// the JSON answer; nil for another function name.
func (Host) KVCall(function string, req []byte) []byte {
	var fn func(unsafe.Pointer, uint32) uint64
	switch function {
	case "kv_get":
		fn = hostKVGet
	case "kv_set":
		fn = hostKVSet
	case "kv_delete":
		fn = hostKVDelete
	case "kv_list":
		fn = hostKVList
	default:
		return nil
	}
	return take(fn(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req))))
}
