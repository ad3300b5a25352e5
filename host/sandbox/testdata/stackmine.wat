;; INVALID on purpose (assemble with wat2wasm --no-check): deeprec whose recursion sets
;; local 1, which does not exist here ($down has one parameter and no local) but is $down's
;; $mine once the stack rewrite appended it, to 0, then makes a call, after which the
;; rewrite restores the stack counter from $mine: the counter would restart from 0 at
;; every level, so the recursion would never reach the budget. The host must refuse the
;; module, as wazero does unrewritten.
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
  (data (i32.const 1024) "{\"id\":\"stkmine\",\"name\":\"stkmine\",\"description\":\"sandbox test plugin\",\"version\":\"1.0.0\",\"tags\":[\"test\"],\"capabilities\":[]}")
  (data (i32.const 2048) "{\"type\":\"object\"}")
  (data (i32.const 2100) "{\"depth\":true}")
  (func (export "get_metadata") (result i64)
    (call $pack (i32.const 1024) (i32.const 121)))
  (func (export "get_input_schema") (result i64)
    (call $pack (i32.const 2048) (i32.const 17)))
  (func $nop)
  (func $down (param $x i32) (result i32)
    (local.set 1 (i32.const 0))
    (call $nop)
    (if (result i32) (i32.eqz (local.get $x))
      (then (i32.const 0))
      (else (i32.add (call $down (i32.sub (local.get $x) (i32.const 1))) (i32.const 1)))))
  (func (export "execute") (param i32) (param $n i32) (result i64)
    (drop (call $down (i32.mul (local.get $n) (i32.const 100))))
    (call $pack (i32.const 2100) (i32.const 14)))
)
