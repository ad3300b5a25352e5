//! The Rust echo executor of the end-to-end benchmarks (make bench): its result is its
//! input, so a task costs what the kit and the host add around a call.

use apflow_plugin::{Result, Value};

const METADATA: &str = r#"{"id":"echo_rust","name":"Echo (Rust)","description":"Returns its input.","version":"1.0.0","tags":["benchmark"]}"#;
const INPUT_SCHEMA: &str = r#"{"type":"object"}"#;

fn execute(input: Value) -> Result {
    Ok(input)
}

apflow_plugin::plugin! {
    metadata: METADATA,
    input_schema: INPUT_SCHEMA,
    execute: execute,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes() {
        let v = Value::object().with("i", 7);
        assert_eq!(execute(v.clone()).unwrap().to_json(), v.to_json());
    }
}
