;; Calls apflow.llm_complete and returns the host's answer. The input names what to do
;; by its only key's one letter and holds the request: {"r":REQ} asks once, {"t":REQ}
;; asks twice (the answer of the second call is returned), {"x":0} passes a buffer
;; outside memory. It has no metadata, so its plugin id is the file name it is loaded
;; under.
(module
  (import "apflow" "llm_complete" (func $llm (param i32 i32) (result i64)))
  (memory (export "memory") 2)
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
  (data (i32.const 2048) "{\"type\":\"object\"}")
  (func (export "get_input_schema") (result i64)
    (call $pack (i32.const 2048) (i32.const 17)))
  (func (export "execute") (param $p i32) (param $n i32) (result i64)
    (local $r i64) (local $op i32) (local $rp i32) (local $rn i32)
    (global.set $busy (i32.const 1))
    (local.set $op (i32.load8_u (i32.add (local.get $p) (i32.const 2))))
    (local.set $rp (i32.add (local.get $p) (i32.const 5)))
    (local.set $rn (i32.sub (local.get $n) (i32.const 6)))
    (if (i32.eq (local.get $op) (i32.const 114)) ;; r
      (then (local.set $r (call $llm (local.get $rp) (local.get $rn)))))
    (if (i32.eq (local.get $op) (i32.const 116)) ;; t
      (then
        (drop (call $llm (local.get $rp) (local.get $rn)))
        (local.set $r (call $llm (local.get $rp) (local.get $rn)))))
    (if (i32.eq (local.get $op) (i32.const 120)) ;; x
      (then (local.set $r (call $llm (i32.const -16) (i32.const 64)))))
    (global.set $busy (i32.const 0))
    (local.get $r))
)
