//! The kv conformance plugin, Rust edition (examples/conformance/kv_test.go).

use apflow_plugin::{host, Error, Result, Value};

/// The sequence of examples/conformance/README.md ("kv"); a refused call ends it with
/// that call's error and code (`?` turns a `KvError` into an `Error` with its code).
fn execute(input: Value) -> Result {
    let key = input
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::with_code("key is required", "invalid_inputs"))?
        .to_string();
    let before = host::kv_get(&key)?.is_some();
    host::kv_set(&key, &Value::object().with("n", 1), 60000)?;
    let claimed = host::kv_set_if_absent(&key, &Value::from("other"), 0)?;
    let value = host::kv_get(&key)?.unwrap_or(Value::Null);
    host::kv_set(&format!("{}/2", key), &Value::from(true), 0)?;
    let (keys, _) = host::kv_list(&key, "", 10)?;
    let deleted = host::kv_delete(&key)?;
    let after = host::kv_get(&key)?.is_some();
    let mut out = Value::object().with("before", before).with("claimed", claimed);
    out.set("value", value);
    out.set("keys", keys.iter().map(|k| Value::from(k.as_str())).collect::<Vec<Value>>());
    Ok(out.with("deleted", deleted).with("after", after))
}

apflow_plugin::plugin! {
    metadata: r#"{"id":"kv_rust","name":"KV (rust)","version":"1.0.0","capabilities":["kv"]}"#,
    input_schema: r#"{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}"#,
    execute: execute,
}
