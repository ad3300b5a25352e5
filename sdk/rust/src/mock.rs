//! The host of native tests: what the host functions answer when a plugin's logic runs
//! under `cargo test` (not `wasm32`), and what it did.
//!
//! Each test thread has its own host, empty at the start: `cargo test` runs tests on
//! several threads, so tests never see each other's settings. [`reset`] empties it again.
//!
//! ```
//! use apflow_plugin::{host, mock};
//! mock::set_config("api.token", "t");
//! mock::respond("GET", "https://api.example.com/x", 200, r#"{"ok":true}"#);
//! assert_eq!(host::config_get("api.token").as_deref(), Some("t"));
//! let resp = host::http_request(&host::Request::get("https://api.example.com/x")).unwrap();
//! assert_eq!((resp.status, resp.body.as_str()), (200, r#"{"ok":true}"#));
//! host::info("done");
//! assert_eq!(mock::logs(), vec![(host::Level::Info, "done".to_string())]);
//! ```
//!
//! Without a response set for its method and URL, `http_request` answers the error
//! `no mock response for METHOD URL`; without a value set, `config_get` answers `None`.
//! `llm_complete` answers the responses queued with [`respond_llm`] and the errors
//! queued with [`fail_llm`], one per call in order, and `llm_not_configured` when the
//! queue is empty; [`llm_requests`] returns what it was asked.

use crate::host::{Level, LlmResponse};
use crate::json::Value;
use std::cell::RefCell;

#[derive(Default)]
struct Host {
    config: Vec<(String, String)>,
    responses: Vec<(String, String, i64, Vec<(String, String)>, String)>,
    requests: Vec<Value>,
    logs: Vec<(Level, String)>,
    progress: Vec<f64>,
    llm: std::collections::VecDeque<Result<LlmResponse, (String, String)>>,
    llm_requests: Vec<Value>,
}

thread_local! {
    static HOST: RefCell<Host> = RefCell::new(Host::default());
}

fn with<R>(f: impl FnOnce(&mut Host) -> R) -> R {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// Empties this thread's host: no config, no responses, no records.
pub fn reset() {
    with(|h| *h = Host::default());
}

/// Makes `config_get(key)` answer `value`.
pub fn set_config(key: &str, value: &str) {
    with(|h| {
        h.config.retain(|(k, _)| k != key);
        h.config.push((key.to_string(), value.to_string()));
    });
}

/// Makes `http_request` answer requests with this method (case-insensitive) and URL
/// with `status` and `body`; a later call for the same method and URL replaces it.
pub fn respond(method: &str, url: &str, status: i64, body: &str) {
    respond_with_headers(method, url, status, &[], body)
}

/// [`respond`] with response headers.
pub fn respond_with_headers(method: &str, url: &str, status: i64, headers: &[(&str, &str)], body: &str) {
    let method = method.to_ascii_uppercase();
    let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    with(|h| {
        h.responses.retain(|(m, u, ..)| !(*m == method && u == url));
        h.responses.push((method, url.to_string(), status, headers, body.to_string()));
    });
}

/// The request documents `http_request` received, in order (`docs/abi.md`).
pub fn http_requests() -> Vec<Value> {
    with(|h| h.requests.clone())
}

/// The log lines written, in order.
pub fn logs() -> Vec<(Level, String)> {
    with(|h| h.logs.clone())
}

/// The progress values reported, in order.
pub fn progress() -> Vec<f64> {
    with(|h| h.progress.clone())
}

/// Queues `resp` as the answer of the next `llm_complete` call without one.
pub fn respond_llm(resp: LlmResponse) {
    with(|h| h.llm.push_back(Ok(resp)));
}

/// Queues an error answer, `{"error": message, "code": code}`, for the next
/// `llm_complete` call without one (a code of `host::llm_code`).
pub fn fail_llm(code: &str, message: &str) {
    with(|h| h.llm.push_back(Err((code.to_string(), message.to_string()))));
}

/// The request documents `llm_complete` received, in order (`docs/abi.md`).
pub fn llm_requests() -> Vec<Value> {
    with(|h| h.llm_requests.clone())
}

/// The host's answer document to an llm_complete document.
pub(crate) fn llm_answer(doc: &str) -> Vec<u8> {
    let refuse = |code: &str, msg: String| Value::object().with("error", msg).with("code", code).to_json().into_bytes();
    let req = match Value::parse_bytes(doc.as_bytes()) {
        Ok(v) => v,
        Err(e) => return refuse("invalid_request", format!("invalid request: {}", e)),
    };
    if req.get("messages").and_then(Value::as_array).map_or(true, |m| m.is_empty()) {
        return refuse("invalid_request", "invalid request: messages is empty".into());
    }
    with(|h| {
        h.llm_requests.push(req);
        match h.llm.pop_front() {
            Some(Ok(resp)) => resp.to_value().to_json().into_bytes(),
            Some(Err((code, msg))) => refuse(&code, msg),
            None => refuse("llm_not_configured", "no mock llm response".into()),
        }
    })
}

pub(crate) fn record_log(level: Level, message: &str) {
    with(|h| h.logs.push((level, message.to_string())));
}

pub(crate) fn record_progress(value: f64) {
    with(|h| h.progress.push(value));
}

pub(crate) fn config(key: &str) -> Option<String> {
    with(|h| h.config.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
}

/// The host's answer document to an http_request document.
pub(crate) fn http_answer(doc: &str) -> Vec<u8> {
    let req = match Value::parse_bytes(doc.as_bytes()) {
        Ok(v) => v,
        Err(e) => return Value::object().with("error", format!("invalid request: {}", e)).to_json().into_bytes(),
    };
    let method = req.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
    let url = req.get("url").and_then(Value::as_str).unwrap_or("").to_string();
    with(|h| {
        h.requests.push(req.clone());
        match h.responses.iter().find(|(m, u, ..)| *m == method && *u == url) {
            Some((_, _, status, headers, body)) => {
                let hs = Value::Object(headers.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect());
                Value::object().with("status", *status).with("headers", hs).with("body", body.as_str())
            }
            None => Value::object().with("error", format!("no mock response for {} {}", method, url)),
        }
        .to_json()
        .into_bytes()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host;

    #[test]
    fn answers_what_was_set_and_records_what_happened() {
        reset();
        set_config("k", "v1");
        set_config("k", "v2");
        respond_with_headers("post", "https://a.example/p", 201, &[("X-A", "1")], "made");
        assert_eq!(host::config_get("k").as_deref(), Some("v2"));
        assert_eq!(host::config_get("other"), None);
        let mut req = host::Request::get("https://a.example/p");
        req.method = "POST".into();
        req.body = Some("in".into());
        let resp = host::http_request(&req).unwrap();
        assert_eq!((resp.status, resp.body.as_str()), (201, "made"));
        assert_eq!(resp.headers.get("X-A").and_then(Value::as_str), Some("1"));
        let err = host::http_request(&host::Request::get("https://a.example/q")).unwrap_err();
        assert_eq!(err, "no mock response for GET https://a.example/q");
        assert_eq!(http_requests().len(), 2);
        assert_eq!(http_requests()[0].get("body").and_then(Value::as_str), Some("in"));
        host::warn("careful");
        host::progress(0.5);
        assert_eq!(logs(), vec![(Level::Warn, "careful".to_string())]);
        assert_eq!(progress(), vec![0.5]);
        reset();
        assert!(logs().is_empty() && http_requests().is_empty() && host::config_get("k").is_none());
    }

    #[test]
    fn llm_answers_in_order_and_records_requests() {
        reset();
        let resp = LlmResponse {
            content: "hello".into(),
            model: "fake".into(),
            stop_reason: String::new(),
            usage: host::LlmUsage { input_tokens: 4, output_tokens: 1 },
        };
        respond_llm(resp.clone());
        fail_llm(host::llm_code::BUDGET_EXCEEDED, "spent");
        assert_eq!(host::llm_complete(&host::LlmRequest::user("a")), Ok(resp));
        let err = host::llm_complete(&host::LlmRequest::user("b")).unwrap_err();
        assert_eq!((err.code.as_deref(), err.message.as_str()), (Some("llm_budget_exceeded"), "llm_complete: spent"));
        let err = host::llm_complete(&host::LlmRequest::user("c")).unwrap_err();
        assert_eq!(err.code.as_deref(), Some("llm_not_configured"));
        let err = host::llm_complete(&host::LlmRequest::default()).unwrap_err();
        assert_eq!(err.code.as_deref(), Some("invalid_request"));
        let reqs = llm_requests();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[1].to_json(), r#"{"messages":[{"role":"user","content":"b"}]}"#);
        reset();
        assert!(llm_requests().is_empty());
    }
}
