;; minimal.wat — a complete apflow executor in hand-written WebAssembly text (ABI v1,
;; docs/abi.md). It echoes its inputs as its result and logs one line.
;;
;;   wat2wasm minimal.wat -o minimal_wat.wasm
;;
;; Memory layout: constant documents at 16.., a bump heap from 4096 up. alloc bumps (and
;; grows memory when needed), dealloc does nothing, and execute resets the heap when it
;; returns: its result (the input buffer itself) only has to stay valid until the next call.
(module
  (import "apflow" "log" (func $log (param i32 i32 i32)))

  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))

  (data (i32.const 16) "{\"id\":\"minimal_wat\",\"name\":\"Minimal (WAT)\",\"description\":\"Echoes its inputs\",\"version\":\"1.0.0\"}")
  (data (i32.const 111) "{\"type\":\"object\"}")
  (data (i32.const 128) "minimal_wat: echoing inputs")

  ;; (ptr << 32) | len
  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
      (i64.extend_i32_u (local.get $len))))

  (func (export "alloc") (param $size i32) (result i32)
    (local $ptr i32) (local $end i32)
    (local.set $ptr (global.get $heap))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    ;; grow when the block does not fit: pages needed = ceil((end - current bytes) / 64 KiB)
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.shr_u
                  (i32.add
                    (i32.sub (local.get $end) (i32.shl (memory.size) (i32.const 16)))
                    (i32.const 65535))
                  (i32.const 16)))
              (i32.const -1))
          (then unreachable))))
    (global.set $heap (local.get $end))
    (local.get $ptr))

  (func (export "dealloc") (param $ptr i32) (param $size i32))

  (func (export "get_metadata") (result i64)
    (call $pack (i32.const 16) (i32.const 95)))

  (func (export "get_input_schema") (result i64)
    (call $pack (i32.const 111) (i32.const 17)))

  (func (export "execute") (param $ptr i32) (param $len i32) (result i64)
    (call $log (i32.const 2) (i32.const 128) (i32.const 27))
    (global.set $heap (i32.const 4096))
    (call $pack (local.get $ptr) (local.get $len)))
)
