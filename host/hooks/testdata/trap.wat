;; Test hook "trap": pre_hook and post_hook execute unreachable.
(module
  (memory (export "memory") 2)
  ;; Bump allocator: an alloc made while no host call is in flight (the host's alloc for
  ;; the input) resets the heap, so a pooled instance does not grow across calls.
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
  ;; $str packs the NUL-terminated string at $p: (p << 32) | strlen(p).
  (func $str (param $p i32) (result i64)
    (local $e i32)
    (local.set $e (local.get $p))
    (block $done (loop $next
      (br_if $done (i32.eqz (i32.load8_u (local.get $e))))
      (local.set $e (i32.add (local.get $e) (i32.const 1)))
      (br $next)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $e) (local.get $p)))))
  (func (export "get_metadata") (result i64) (call $str (i32.const 1024)))
  (data (i32.const 1024) "{\"id\":\"trap\",\"name\":\"trap\",\"description\":\"traps\",\"version\":\"1.0.0\",\"capabilities\":[]}")
  (func (export "pre_hook") (param i32 i32) (result i64) unreachable)
  (func (export "post_hook") (param i32 i32) (result i64) unreachable)
)
