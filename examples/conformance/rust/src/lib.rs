//! The conformance plugin, Rust edition. Specification: `examples/conformance/README.md`.

use apflow_plugin::host::{self, Request};
use apflow_plugin::{Error, Result, Value};

const METADATA: &str = r#"{"id":"conformance_rust","name":"Conformance (rust)","description":"ABI v1 conformance plugin","version":"1.0.0","tags":["conformance"],"capabilities":["http"]}"#;
const INPUT_SCHEMA: &str = r#"{"type":"object","properties":{"text":{"type":"string"},"numbers":{"type":"array","items":{"type":"integer"}},"fail":{"type":"boolean"},"url":{"type":"string"}},"required":["text"]}"#;
const OUTPUT_SCHEMA: &str = r#"{"type":"object","properties":{"length":{"type":"integer"},"upper":{"type":"string"},"sum":{"type":"integer"},"count":{"type":"integer"},"lang":{"type":"string"},"http_status":{"type":"integer"},"http_body":{"type":"string"},"http_error":{"type":"string"}},"required":["length","upper","sum","count","lang"]}"#;

fn execute(input: Value) -> Result {
    let text = input
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::with_code("text must be a string", "E_INPUT"))?;
    let mut sum: i64 = 0;
    let mut count: i64 = 0;
    if let Some(numbers) = input.get("numbers").and_then(Value::as_array) {
        for n in numbers {
            sum = sum.wrapping_add(n.as_i64().ok_or_else(|| Error::with_code("numbers must be integers", "E_INPUT"))?);
            count += 1;
        }
    }
    host::info(&format!("conformance: processing {} bytes", text.len()));
    host::progress(0.5);
    if input.get("fail").and_then(Value::as_bool) == Some(true) {
        return Err(Error::with_code("requested failure", "E_REQUESTED"));
    }
    let mut out = Value::object()
        .with("length", text.len())
        .with("upper", text.to_ascii_uppercase())
        .with("sum", sum)
        .with("count", count)
        .with("lang", "rust");
    if let Some(url) = input.get("url").and_then(Value::as_str).filter(|u| !u.is_empty()) {
        match host::http_request(&Request::get(url)) {
            Ok(resp) => {
                out.set("http_status", resp.status);
                out.set("http_body", resp.body);
            }
            Err(e) => out.set("http_error", e),
        }
    }
    host::progress(1.0);
    Ok(out)
}

apflow_plugin::plugin! {
    metadata: METADATA,
    input_schema: INPUT_SCHEMA,
    output_schema: OUTPUT_SCHEMA,
    execute: execute,
}
