;; Grows its memory to 100 pages on its first execution and keeps that size (like a
;; garbage-collected guest whose heap settles), to exercise the pool's memory rules.
(module
  (memory (export "memory") 2)
  ;; Bump allocator: the first alloc of an execution (made by the host before execute)
  ;; resets the heap, so a pooled instance's memory does not grow across executions.
  (global $heap (mut i32) (i32.const 65536))
  (global $busy (mut i32) (i32.const 0))
  (func $alloc (export "alloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (if (i32.eqz (global.get $busy)) (then (global.set $heap (i32.const 65536))))
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then
        (if (i32.eq
              (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end)
                (i32.mul (memory.size) (i32.const 65536))) (i32.const 16)) (i32.const 1)))
              (i32.const -1))
          (then unreachable))))
    (global.set $heap (i32.add (local.get $end) (i32.const 8)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func $pack (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (data (i32.const 1024) "{\"id\":\"plateau\",\"name\":\"plateau\",\"description\":\"sandbox test plugin\",\"version\":\"1.0.0\",\"tags\":[\"test\"],\"capabilities\":[]}")
  (data (i32.const 2048) "{}")
  (data (i32.const 3072) "{}")
  (func (export "get_metadata") (result i64)
    (call $pack (i32.const 1024) (i32.const 121)))
  (func (export "get_input_schema") (result i64)
    (call $pack (i32.const 2048) (i32.const 2)))
  (func (export "execute") (param i32 i32) (result i64)
    (if (i32.lt_u (memory.size) (i32.const 100))
      (then
        (if (i32.eq (memory.grow (i32.sub (i32.const 100) (memory.size))) (i32.const -1))
          (then unreachable))))
    (call $pack (i32.const 3072) (i32.const 2)))
)
