;; Broken: traps in get_metadata, as a module that fails while it is loaded does.
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "dealloc") (param i32 i32))
  (data (i32.const 2048) "{\"type\":\"object\"}")
  (func (export "get_metadata") (result i64) unreachable)
  (func (export "get_input_schema") (result i64)
    (i64.or (i64.shl (i64.const 2048) (i64.const 32)) (i64.const 17)))
  (func (export "execute") (param i32 i32) (result i64) unreachable)
)
