;; Traps the way the kits' failed assertions do: input "A" logs the AssemblyScript kit's
;; "abort: …" line at error level, input "C" writes wasi-libc's "Assertion failed: …"
;; line to stderr, then both trap (unreachable); input "L" logs the abort line but goes on
;; before it traps. Any other input traps silently, through a named function ($fail)
;; called from one named as Rust mangles aborts::check, for stack traces. WITH NAMES: also
;; built with its name section (aborts_named.wasm), as the kits' debug builds are.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "apflow" "log" (func $log (param i32 i32 i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (func $alloc (export "alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "dealloc") (param i32 i32))
  (func $pack (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (data (i32.const 1024) "{\"id\":\"aborts\",\"version\":\"1.0.0\"}")
  (data (i32.const 2048) "{}")
  (data (i32.const 3000) "abort: index out of range at assembly/index.ts:12:5")
  (data (i32.const 3100) "Assertion failed: n > 0 (main.c: run: 7)\n")
  (func (export "get_metadata") (result i64) (call $pack (i32.const 1024) (i32.const 33)))
  (func (export "get_input_schema") (result i64) (call $pack (i32.const 2048) (i32.const 2)))
  (func $fail unreachable)
  (func $_ZN6aborts5check17h0123456789abcdefE (param $c i32)
    (if (i32.eq (local.get $c) (i32.const 65)) ;; "A"
      (then (call $log (i32.const 4) (i32.const 3000) (i32.const 51)) unreachable))
    (if (i32.eq (local.get $c) (i32.const 76)) ;; "L": logs the abort line, goes on (another log), then traps
      (then
        (call $log (i32.const 4) (i32.const 3000) (i32.const 51))
        (call $log (i32.const 2) (i32.const 3100) (i32.const 10))
        unreachable))
    (if (i32.eq (local.get $c) (i32.const 67)) ;; "C"
      (then
        (i32.store (i32.const 3600) (i32.const 3100))
        (i32.store (i32.const 3604) (i32.const 41))
        (drop (call $fd_write (i32.const 2) (i32.const 3600) (i32.const 1) (i32.const 3608)))
        unreachable))
    (call $fail))
  ;; the input is a JSON string: its first character is at ptr+1
  (func (export "execute") (param $ptr i32) (param $n i32) (result i64)
    (call $_ZN6aborts5check17h0123456789abcdefE (i32.load8_u (i32.add (local.get $ptr) (i32.const 1))))
    (i64.const 0))
)
