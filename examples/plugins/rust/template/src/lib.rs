//! A starting point for a Rust executor: copy this folder, rename the crate and the id.

use apflow_plugin::{host, Error, Result, Value};

const METADATA: &str = r#"{"id":"template_rust","name":"Template (Rust)","description":"Greets someone","version":"0.1.0","tags":["template"]}"#;
const INPUT_SCHEMA: &str = r#"{"type":"object","properties":{"name":{"type":"string","minLength":1}},"required":["name"]}"#;
const OUTPUT_SCHEMA: &str = r#"{"type":"object","properties":{"greeting":{"type":"string"}},"required":["greeting"]}"#;

fn execute(input: Value) -> Result {
    let name = input
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::with_code("name must be a string", "invalid_inputs"))?;
    host::info(&format!("greeting {}", name));
    Ok(Value::object().with("greeting", format!("Hello, {}!", name)))
}

apflow_plugin::plugin! {
    metadata: METADATA,
    input_schema: INPUT_SCHEMA,
    output_schema: OUTPUT_SCHEMA,
    execute: execute,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets() {
        let out = execute(Value::object().with("name", "Ada")).unwrap();
        assert_eq!(out.to_json(), r#"{"greeting":"Hello, Ada!"}"#);
        // Natively, apflow_plugin::mock is the host: it records the log lines (and
        // answers http_request and config_get with what a test sets).
        assert_eq!(apflow_plugin::mock::logs(), vec![(host::Level::Info, "greeting Ada".to_string())]);
        assert!(execute(Value::object()).is_err());
    }
}
