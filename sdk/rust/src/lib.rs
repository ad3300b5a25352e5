//! # apflow-plugin — the Rust kit for apflow-wasm plugins (ABI v1)
//!
//! Std only, no dependencies. A plugin crate is a `cdylib` built for `wasm32-wasi`:
//!
//! ```ignore
//! use apflow_plugin::{host, Error, Result, Value};
//!
//! fn execute(input: Value) -> Result {
//!     let name = input.get("name").and_then(Value::as_str).ok_or_else(|| Error::new("name missing"))?;
//!     host::info("greeting");
//!     Ok(Value::object().with("greeting", format!("hello {}", name)))
//! }
//!
//! apflow_plugin::plugin! {
//!     metadata: r#"{"id":"greet","name":"Greeter","version":"1.0.0"}"#,
//!     input_schema: r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}"#,
//!     execute: execute,
//! }
//! ```
//!
//! Guarantees (see `docs/abi.md`):
//! * `alloc`/`dealloc` use the Rust global allocator; input buffers the host writes are
//!   freed by the kit after the handler returns; host-function answers are freed by the kit.
//! * A result stays valid until the next call into the guest, then the kit frees it.
//! * A handler's `Err(e)` becomes `{"error": e.message, "code": e.code}` (a failed task);
//!   input that is not JSON becomes `{"error": "invalid input: …", "code": "E_INPUT"}`.
//! * `_initialize` runs the static constructors once (WASI reactor), so exports are not
//!   wrapped in per-call constructor/destructor calls.

pub mod abi;
pub mod hook;
pub mod host;
pub mod json;
#[cfg(not(target_arch = "wasm32"))]
pub mod mock;

pub use abi::{Error, RawResult, Result};
pub use json::{Number, Value};

/// Declares a plugin: the ABI exports (`alloc`, `dealloc`, `_initialize`) and one export per
/// given key. Keys (each optional except as `docs/abi.md` requires, in any order):
///
/// * `metadata: "<json>"` → `get_metadata`
/// * `input_schema: "<json>"` → `get_input_schema` (required for executors)
/// * `output_schema: "<json>"` → `get_output_schema`
/// * `hook_config: "<json>"` → `get_hook_config`
/// * `execute: fn(Value) -> Result` → `execute`
/// * `execute_raw: fn(&[u8]) -> RawResult` → `execute`, the input and the result as JSON
///   text (no [`Value`] tree; see [`abi::call_raw`]); instead of `execute`
/// * `pre_hook`, `post_hook`, `on_tree_created`, `on_tree_started`, `on_tree_completed`,
///   `on_tree_failed`: `fn(Value) -> Result` → the hook export of that name (see [`hook`]
///   for reading their inputs and building their results)
///
/// Every key is optional: a hook-only module omits `execute` and `input_schema` (and says
/// `"kind":["hook"]` in its metadata, docs/abi.md#metadata-kind).
///
/// Use it once per crate.
#[macro_export]
macro_rules! plugin {
    ($($key:ident : $value:expr),* $(,)?) => {
        /// WASI reactor initialisation: runs static constructors once.
        #[cfg(target_arch = "wasm32")]
        #[export_name = "_initialize"]
        pub extern "C" fn __apflow_initialize() {
            extern "C" {
                fn __wasm_call_ctors();
            }
            // SAFETY: the host calls `_initialize` once, before any other export.
            unsafe { __wasm_call_ctors() }
        }

        /// ABI v1 `alloc`.
        #[export_name = "alloc"]
        pub extern "C" fn __apflow_alloc(size: usize) -> *mut u8 {
            $crate::abi::alloc(size)
        }

        /// ABI v1 `dealloc`.
        #[export_name = "dealloc"]
        pub unsafe extern "C" fn __apflow_dealloc(ptr: *mut u8, size: usize) {
            $crate::abi::dealloc(ptr, size)
        }

        $( $crate::__apflow_export!($key, $value); )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __apflow_export {
    (metadata, $v:expr) => {
        #[export_name = "get_metadata"]
        pub extern "C" fn __apflow_get_metadata() -> u64 { $crate::abi::static_result($v) }
    };
    (input_schema, $v:expr) => {
        #[export_name = "get_input_schema"]
        pub extern "C" fn __apflow_get_input_schema() -> u64 { $crate::abi::static_result($v) }
    };
    (output_schema, $v:expr) => {
        #[export_name = "get_output_schema"]
        pub extern "C" fn __apflow_get_output_schema() -> u64 { $crate::abi::static_result($v) }
    };
    (hook_config, $v:expr) => {
        #[export_name = "get_hook_config"]
        pub extern "C" fn __apflow_get_hook_config() -> u64 { $crate::abi::static_result($v) }
    };
    (execute, $f:expr) => { $crate::__apflow_handler!("execute", $f); };
    (execute_raw, $f:expr) => { $crate::__apflow_handler!("execute", call_raw, $f); };
    (pre_hook, $f:expr) => { $crate::__apflow_handler!("pre_hook", $f); };
    (post_hook, $f:expr) => { $crate::__apflow_handler!("post_hook", $f); };
    (on_tree_created, $f:expr) => { $crate::__apflow_handler!("on_tree_created", $f); };
    (on_tree_started, $f:expr) => { $crate::__apflow_handler!("on_tree_started", $f); };
    (on_tree_completed, $f:expr) => { $crate::__apflow_handler!("on_tree_completed", $f); };
    (on_tree_failed, $f:expr) => { $crate::__apflow_handler!("on_tree_failed", $f); };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __apflow_handler {
    ($name:literal, $f:expr) => { $crate::__apflow_handler!($name, call, $f); };
    // `$call` is the `abi` function that decodes the input and encodes the outcome.
    ($name:literal, $call:ident, $f:expr) => {
        const _: () = {
            #[export_name = $name]
            pub unsafe extern "C" fn __apflow_handler_fn(ptr: *mut u8, len: usize) -> u64 {
                $crate::abi::$call(ptr, len, $f)
            }
        };
    };
}
