;; Test executor "maybe" for the CLI's re-run test: this version traps with unreachable.
;; Assemble with: wat2wasm maybe_bad.wat
(module
  (memory (export "memory") 2)
  (func (export "alloc") (param $n i32) (result i32) (i32.const 65536))
  (func (export "dealloc") (param i32 i32))
  (func $pack (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (data (i32.const 1024) "{\"id\":\"maybe\",\"name\":\"maybe\",\"description\":\"re-run test\",\"version\":\"1.0.0\"}")
  (data (i32.const 2048) "{\"type\":\"object\"}")
  (data (i32.const 3072) "{\"fixed\":true}")
  (func (export "get_metadata") (result i64) (call $pack (i32.const 1024) (i32.const 75)))
  (func (export "get_input_schema") (result i64) (call $pack (i32.const 2048) (i32.const 17)))
  (func (export "execute") (param i32 i32) (result i64)
    unreachable)
)
