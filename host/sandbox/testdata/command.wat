;; Rejected at load: a WASI command (exports _start, no _initialize, no ABI exports), as
;; `go build` without -buildmode=c-shared makes. Inspect names the reactor flags.
(module
  (memory (export "memory") 1)
  (func (export "_start"))
)
