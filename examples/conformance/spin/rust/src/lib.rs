//! The spin conformance plugin, Rust edition (examples/conformance/spin_test.go).

use apflow_plugin::{Error, Result, Value};

static mut SINK: u64 = 0;

/// Counts in a volatile global, so that no loop or call around it is optimised away.
fn bump() {
    // Safety: the plugin is single-threaded and SINK is only touched here.
    unsafe {
        let p = core::ptr::addr_of_mut!(SINK);
        core::ptr::write_volatile(p, core::ptr::read_volatile(p) + 1);
    }
}

/// A call tree of 2^n calls, never more than n deep.
#[inline(never)]
fn tree(n: u32) {
    bump();
    if n == 0 {
        return;
    }
    tree(n - 1);
    tree(n - 1);
}

/// Never returns: "loop" spins in a loop, "tree" calls a tree of 2^60 calls.
fn execute(input: Value) -> Result {
    let mode = input
        .get("mode")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::with_code("mode is required", "invalid_inputs"))?;
    if mode == "tree" {
        tree(60);
    }
    loop {
        bump();
    }
}

apflow_plugin::plugin! {
    metadata: r#"{"id":"spin_rust","name":"Spin (rust)","version":"1.0.0"}"#,
    input_schema: r#"{"type":"object","properties":{"mode":{"type":"string"}},"required":["mode"]}"#,
    execute: execute,
}
