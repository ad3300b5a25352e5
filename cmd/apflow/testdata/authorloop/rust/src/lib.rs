use apflow_plugin::{host, Error, Result, Value};

fn execute(input: Value) -> Result {
    let mut text = input.get("text").and_then(Value::as_str).unwrap_or("").to_string();
    if input.get("explode").and_then(Value::as_bool) == Some(true) {
        explode(&text);
    }
    if let Some(url) = input.get("url").and_then(Value::as_str) {
        let resp = host::http_request(&host::Request::get(url)).map_err(|e| Error::with_code(&e, "http_refused"))?;
        text = resp.body;
    }
    let n = text.split_whitespace().count();
    host::info(&format!("counted words words={}", n));
    Ok(Value::object().with("words", n as i64))
}

#[inline(never)]
fn explode(text: &str) {
    let counts: Vec<usize> = Vec::new();
    let _ = counts[text.len()]; // index out of bounds: the bug the trap shows
}

apflow_plugin::plugin! {
    metadata: r#"{"id":"word_count","name":"Word count","version":"0.1.0"}"#,
    input_schema: r#"{"type":"object","properties":{"text":{"type":"string"},"url":{"type":"string"},"explode":{"type":"boolean"}}}"#,
    execute: execute,
}
