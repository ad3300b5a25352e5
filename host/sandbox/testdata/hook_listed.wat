;; A hook module exporting every hook function, as the Go kit's do, whose
;; get_hook_config lists the two it implements (docs/abi.md#hooks).
(module
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "dealloc") (param i32 i32))
  (func $pack (param $p i32) (param $n i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32)) (i64.extend_i32_u (local.get $n))))
  (data (i32.const 1024) "{\"id\":\"hook_listed\",\"version\":\"1.0.0\",\"kind\":[\"hook\"]}")
  (data (i32.const 2048) "{\"executors\":[\"echo\"],\"hooks\":[\"post_hook\",\"on_tree_started\"]}")
  (func (export "get_metadata") (result i64) (call $pack (i32.const 1024) (i32.const 54)))
  (func (export "get_hook_config") (result i64) (call $pack (i32.const 2048) (i32.const 62)))
  (func (export "pre_hook") (param i32 i32) (result i64) unreachable)
  (func (export "post_hook") (param i32 i32) (result i64) (i64.const 0))
  (func (export "on_tree_created") (param i32 i32) (result i64) unreachable)
  (func (export "on_tree_started") (param i32 i32) (result i64) (i64.const 0))
  (func (export "on_tree_completed") (param i32 i32) (result i64) unreachable)
  (func (export "on_tree_failed") (param i32 i32) (result i64) unreachable)
)
