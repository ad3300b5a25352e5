;; Rejected at load: what AssemblyScript builds without the kit's abort handler (it
;; imports env.abort) and with an imported memory. Inspect reports both, each with its fix.
(module
  (import "env" "memory" (memory 1))
  (import "env" "abort" (func $abort (param i32 i32 i32 i32)))
  (func (export "alloc") (param i32) (result i32) (i32.const 0))
  (func (export "dealloc") (param i32 i32))
  (func (export "get_input_schema") (result i64) (i64.const 0))
  (func (export "execute") (param i32 i32) (result i64) (i64.const 0))
)
