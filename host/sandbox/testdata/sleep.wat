;; Hostile: execute sleeps (poll_oneoff on a relative clock subscription) for ~292 years,
;; then returns {"slept":true}.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
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
  (data (i32.const 1024) "{\"id\":\"sleep\",\"name\":\"sleep\",\"description\":\"sandbox test plugin\",\"version\":\"1.0.0\",\"tags\":[\"test\"],\"capabilities\":[\"clock\"]}")
  (data (i32.const 2048) "{\"type\":\"object\"}")
  (data (i32.const 2100) "{\"slept\":true}")
  (func (export "get_metadata") (result i64)
    (call $pack (i32.const 1024) (i32.const 124)))
  (func (export "get_input_schema") (result i64)
    (call $pack (i32.const 2048) (i32.const 17)))
  (func (export "execute") (param i32 i32) (result i64)
    ;; One subscription at 4096 (48 bytes): userdata 0, tag 0 (clock), clock id 1
    ;; (monotonic), timeout 2^63-1 ns, precision 0, flags 0 (relative).
    (i32.store8 (i32.const 4104) (i32.const 0))
    (i32.store (i32.const 4112) (i32.const 1))
    (i64.store (i32.const 4120) (i64.const 0x7fffffffffffffff))
    (i64.store (i32.const 4128) (i64.const 0))
    (i32.store16 (i32.const 4136) (i32.const 0))
    (drop (call $poll_oneoff (i32.const 4096) (i32.const 4200) (i32.const 1) (i32.const 4300)))
    (call $pack (i32.const 2100) (i32.const 14)))
)
