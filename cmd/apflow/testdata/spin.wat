;; Test executor for the CLI: burns CPU for a time proportional to the length of its
;; input (len * 400000 loop iterations, about 1.2 s per 4,000 bytes since loops run at
;; native speed), then returns {"spun":true}. Lets tests hold a task in_progress long
;; enough to kill the process under it.
;; Assemble with: wat2wasm spin.wat
(module
  (memory (export "memory") 2)
  (func (export "alloc") (param $n i32) (result i32) (i32.const 65536))
  (func (export "dealloc") (param i32 i32))
  (func $pack (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (data (i32.const 1024) "{\"id\":\"spin\",\"name\":\"spin\",\"description\":\"burns CPU\",\"version\":\"1.0.0\"}")
  (data (i32.const 2048) "{\"type\":\"object\"}")
  (data (i32.const 3072) "{\"spun\":true}")
  (func (export "get_metadata") (result i64) (call $pack (i32.const 1024) (i32.const 71)))
  (func (export "get_input_schema") (result i64) (call $pack (i32.const 2048) (i32.const 17)))
  (func (export "execute") (param $p i32) (param $len i32) (result i64)
    (local $i i64) (local $n i64) (local $acc i64)
    (local.set $n (i64.mul (i64.extend_i32_u (local.get $len)) (i64.const 400000)))
    (block $done
      (loop $spin
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $spin)))
    (call $pack (i32.const 3072) (i32.const 13)))
)
