//! Helpers for hook exports (`docs/abi.md`, "Hook exports"; `docs/hooks.md`).
//!
//! A hook handler is an ordinary `fn(Value) -> Result` given to [`plugin!`](crate::plugin)
//! under a hook key (`pre_hook`, `post_hook`, `on_tree_*`). These functions read its input
//! documents and build its results:
//!
//! ```
//! use apflow_plugin::{hook, Result, Value};
//!
//! fn pre_hook(input: Value) -> Result {
//!     let mut inputs = hook::inputs(&input);
//!     inputs.set("_stamped", true);
//!     Ok(hook::replace_inputs(inputs))
//! }
//! # let out = pre_hook(Value::parse(r#"{"task":{"id":"t1"},"inputs":{"a":1}}"#).unwrap()).unwrap();
//! # assert_eq!(out.to_json(), r#"{"inputs":{"a":1,"_stamped":true}}"#);
//! ```
//!
//! Guarantees: the helpers never fail; a missing or malformed member reads as absent (or
//! as an empty object for [`inputs`]). `Err(e)` from a hook handler is a *hook failure*:
//! the host logs it, records it in the task's `hook_errors` and leaves the inputs and the
//! task's status unchanged.

use crate::json::Value;

/// The `task` member of a `pre_hook` / `post_hook` input (the task's wire form).
pub fn task(input: &Value) -> Option<&Value> {
    input.get("task").filter(|t| t.as_object().is_some())
}

/// A string field of the input's task (`"id"`, `"name"`, `"user_id"`, …), when present.
pub fn task_str<'a>(input: &'a Value, field: &str) -> Option<&'a str> {
    task(input).and_then(|t| t.get(field)).and_then(Value::as_str)
}

/// The executor the task runs: `params.executor_id`, else `schemas.method` — the id a
/// hook config's `executors` list is matched against.
pub fn task_method(input: &Value) -> Option<&str> {
    let t = task(input)?;
    let by_param = t.get("params").and_then(|p| p.get("executor_id")).and_then(Value::as_str);
    by_param.or_else(|| t.get("schemas").and_then(|s| s.get("method")).and_then(Value::as_str))
}

/// A copy of the `inputs` member of a `pre_hook` / `post_hook` input; an empty object when
/// it is missing or not an object.
pub fn inputs(input: &Value) -> Value {
    match input.get("inputs") {
        Some(v) if v.as_object().is_some() => v.clone(),
        _ => Value::object(),
    }
}

/// The `pre_hook` result that replaces the task's inputs: `{"inputs": inputs}`.
pub fn replace_inputs(inputs: Value) -> Value {
    Value::object().with("inputs", inputs)
}

/// The result that changes nothing: `{}` (any hook export).
pub fn unchanged() -> Value {
    Value::object()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Value {
        Value::parse(s).unwrap()
    }

    #[test]
    fn reads_task_and_inputs() {
        let tests = [
            (r#"{"task":{"id":"t1","name":"n","schemas":{"method":"echo"}},"inputs":{"a":{"b":[1]}}}"#,
             Some("n"), Some("echo"), r#"{"a":{"b":[1]}}"#),
            (r#"{"task":{"name":"n","params":{"executor_id":"x"},"schemas":{"method":"echo"}},"inputs":{}}"#,
             Some("n"), Some("x"), "{}"),
            (r#"{"task":"nope","inputs":[1]}"#, None, None, "{}"),
            (r#"{}"#, None, None, "{}"),
        ];
        for (input, name, method, want) in tests {
            let v = doc(input);
            assert_eq!(task_str(&v, "name"), name, "{}", input);
            assert_eq!(task_method(&v), method, "{}", input);
            assert_eq!(inputs(&v).to_json(), want, "{}", input);
        }
    }

    #[test]
    fn builds_results() {
        let mut i = inputs(&doc(r#"{"inputs":{"big":9223372036854775807,"x":"y"}}"#));
        i.set("_k", "v");
        assert_eq!(replace_inputs(i).to_json(), r#"{"inputs":{"big":9223372036854775807,"x":"y","_k":"v"}}"#);
        assert_eq!(unchanged().to_json(), "{}");
    }
}
