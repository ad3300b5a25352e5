;; Hostile: declares a function table of 2^28 entries (2 GiB of host memory at
;; instantiation, outside the linear memory limit).
(module
  (memory (export "memory") 2)
  (table 268435456 funcref)
  (func $alloc (export "alloc") (param $n i32) (result i32) (i32.const 65536))
  (func (export "dealloc") (param i32 i32))
  (func (export "execute") (param $p i32) (param $n i32) (result i64) (i64.const 0))
  (func (export "get_input_schema") (result i64) (i64.const 0))
)
