//! The sleep conformance plugin, Rust edition (examples/conformance/sleep_test.go).

use apflow_plugin::{host, Error, Result, Value};

/// Sleeps `input.ms` milliseconds; `{"slept":true}`, or the sleep's error and code.
fn execute(input: Value) -> Result {
    let ms = input
        .get("ms")
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::with_code("ms is required", "invalid_inputs"))?;
    host::sleep_ms(ms)?;
    Ok(Value::object().with("slept", true))
}

apflow_plugin::plugin! {
    metadata: r#"{"id":"sleep_rust","name":"Sleep (rust)","version":"1.0.0","capabilities":["clock"]}"#,
    input_schema: r#"{"type":"object","properties":{"ms":{"type":"integer"}},"required":["ms"]}"#,
    execute: execute,
}
