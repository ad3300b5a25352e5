;; Test executor "swap", version 2, for the hot-load tests: burns CPU in proportion to the
;; length of its input (len * 20000 loop iterations, like spin.wat), then returns
;; {"version":2}. swap_v1.wat and swap_v2.wat differ only in that number, so a task's
;; result tells which version of the file ran it.
;; Assemble with: wat2wasm swap_v2.wat
(module
  (memory (export "memory") 2)
  (func (export "alloc") (param $n i32) (result i32) (i32.const 65536))
  (func (export "dealloc") (param i32 i32))
  (func $pack (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (data (i32.const 1024) "{\"id\":\"swap\",\"name\":\"swap\",\"description\":\"hot-load test\",\"version\":\"2.0.0\"}")
  (data (i32.const 2048) "{\"type\":\"object\"}")
  (data (i32.const 3072) "{\"version\":2}")
  (func (export "get_metadata") (result i64) (call $pack (i32.const 1024) (i32.const 75)))
  (func (export "get_input_schema") (result i64) (call $pack (i32.const 2048) (i32.const 17)))
  (func (export "execute") (param $p i32) (param $len i32) (result i64)
    (local $i i32) (local $n i32) (local $acc i32)
    (local.set $n (i32.mul (local.get $len) (i32.const 20000)))
    (block $done
      (loop $spin
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i32.add (local.get $acc) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $spin)))
    (call $pack (i32.const 3072) (i32.const 13)))
)
