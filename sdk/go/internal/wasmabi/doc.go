// Package wasmabi is the pointer glue between the apflow Go SDK and the plugin ABI v1
// (docs/abi.md): the guest allocator whose buffers are pinned until dealloc, packing of
// (ptr, len) results, and, in wasip1 builds, the alloc/dealloc exports and the imports of
// the "apflow" host module.
//
// The [Arena] is host-independent and tested natively; everything that touches real wasm
// pointers lives in files built only for GOOS=wasip1.
package wasmabi
