//! The llm conformance plugin, Rust edition (examples/conformance/llm_test.go).

use apflow_plugin::host::{self, LlmMessage, LlmRequest};
use apflow_plugin::{Error, Result, Value};

/// Asks the completion of examples/conformance/README.md ("llm"); a refused call ends the
/// task with the host's code (`?` keeps it).
fn execute(input: Value) -> Result {
    let prompt = input
        .get("prompt")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::with_code("prompt is required", "invalid_inputs"))?;
    let req = LlmRequest {
        messages: vec![LlmMessage::new("system", "conformance"), LlmMessage::new("user", prompt)],
        max_tokens: Some(16),
        temperature: Some(0.5),
        json: true,
    };
    let resp = host::llm_complete(&req)?;
    Ok(Value::object()
        .with("content", resp.content)
        .with("model", resp.model)
        .with("stop_reason", resp.stop_reason)
        .with("input_tokens", resp.usage.input_tokens)
        .with("output_tokens", resp.usage.output_tokens))
}

apflow_plugin::plugin! {
    metadata: r#"{"id":"llm_rust","name":"LLM (rust)","version":"1.0.0","capabilities":["llm"]}"#,
    input_schema: r#"{"type":"object","properties":{"prompt":{"type":"string"}},"required":["prompt"]}"#,
    execute: execute,
}
