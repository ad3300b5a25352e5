;; A module whose instantiation fails after its memory is made: an active data segment
;; past the end of its 16 MiB memory (wazero reports it when it applies the data, and
;; does not close the module).
(module
  (memory (export "memory") 256)
  (data (i32.const 1024) "{\"id\":\"oobdata\",\"name\":\"oobdata\"}")
  (data (i32.const 16777214) "xyz")
  (func $pack (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (func (export "alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "dealloc") (param i32 i32))
  (func (export "get_metadata") (result i64) (call $pack (i32.const 1024) (i32.const 33)))
  (func (export "get_input_schema") (result i64) (i64.const 0))
  (func (export "execute") (param i32 i32) (result i64) (i64.const 0)))
