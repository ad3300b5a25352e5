//! The Rust echo executor of the end-to-end benchmarks (make bench): its result is its
//! input, so a task costs what the kit and the host add around a call. It takes its input
//! as JSON text (`execute_raw`), as a Rust executor that only forwards JSON should: the
//! `Value` tree costs a parse and a re-serialization per call (docs/performance.md).

use apflow_plugin::RawResult;

const METADATA: &str = r#"{"id":"echo_rust","name":"Echo (Rust)","description":"Returns its input.","version":"1.0.0","tags":["benchmark"]}"#;
const INPUT_SCHEMA: &str = r#"{"type":"object"}"#;

fn execute(input: &[u8]) -> RawResult {
    Ok(input.to_vec())
}

apflow_plugin::plugin! {
    metadata: METADATA,
    input_schema: INPUT_SCHEMA,
    execute_raw: execute,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes() {
        let input = br#"{"i": 7}"#;
        assert_eq!(execute(input).unwrap(), input.to_vec());
    }
}
