//! hook_rust — an example hook written with the Rust kit (docs/hooks.md).
//!
//! * `pre_hook` returns the task's inputs plus `"_hooked_by": "rust"`, every other member
//!   unchanged. When an earlier hook of the chain already set `_hooked_by`, it appends
//!   (`"c,rust"`), so the chain's order shows in the result. When the inputs contain
//!   `"fail_hook": true` (or `"fail_hook": "rust"`) it fails instead: a hook failure that
//!   the host records in `hook_errors` and that changes nothing.
//! * `post_hook` logs `post <task name>` at info level and returns `{}`.
//!
//! Hook only: no `execute`, metadata `"kind":["hook"]`. No grants needed.

use apflow_plugin::{hook, host, Error, Result, Value};

const LANG: &str = "rust";

fn pre_hook(input: Value) -> Result {
    let mut inputs = hook::inputs(&input);
    let fail = inputs.get("fail_hook");
    if fail.and_then(Value::as_bool) == Some(true) || fail.and_then(Value::as_str) == Some(LANG) {
        let id = hook::task_str(&input, "id").unwrap_or("?");
        return Err(Error::new(format!("{} hook: fail_hook is set on task {}", LANG, id)));
    }
    let by = match inputs.get("_hooked_by").and_then(Value::as_str) {
        Some(prev) => format!("{},{}", prev, LANG),
        None => LANG.to_string(),
    };
    inputs.set("_hooked_by", by);
    Ok(hook::replace_inputs(inputs))
}

fn post_hook(input: Value) -> Result {
    host::info(&format!("post {}", hook::task_str(&input, "name").unwrap_or("")));
    Ok(hook::unchanged())
}

apflow_plugin::plugin! {
    metadata: r#"{"id":"hook_rust","name":"Hook (Rust)","description":"Stamps _hooked_by on the inputs, logs completed tasks","version":"1.0.0","kind":["hook"]}"#,
    pre_hook: pre_hook,
    post_hook: post_hook,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pre(doc: &str) -> std::result::Result<String, String> {
        pre_hook(Value::parse(doc).unwrap()).map(|v| v.to_json()).map_err(|e| e.message)
    }

    #[test]
    fn pre_hook_stamps_appends_and_fails() {
        let tests = [
            (r#"{"task":{"id":"t"},"inputs":{"a":{"b":1},"n":9007199254740993}}"#,
             Ok(r#"{"inputs":{"a":{"b":1},"n":9007199254740993,"_hooked_by":"rust"}}"#)),
            (r#"{"task":{"id":"t"},"inputs":{"_hooked_by":"c"}}"#, Ok(r#"{"inputs":{"_hooked_by":"c,rust"}}"#)),
            (r#"{"task":{"id":"t"},"inputs":{"fail_hook":"c"}}"#, Ok(r#"{"inputs":{"fail_hook":"c","_hooked_by":"rust"}}"#)),
            (r#"{"task":{"id":"t"},"inputs":{"fail_hook":true}}"#, Err("rust hook: fail_hook is set on task t")),
            (r#"{"task":{"id":"t"},"inputs":{"fail_hook":"rust"}}"#, Err("rust hook: fail_hook is set on task t")),
        ];
        for (input, want) in tests {
            assert_eq!(pre(input), want.map(str::to_string).map_err(str::to_string), "{}", input);
        }
    }
}
