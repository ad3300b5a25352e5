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

use crate::host::Level;
use crate::json::Value;
use std::cell::RefCell;

#[derive(Default)]
struct Host {
    config: Vec<(String, String)>,
    responses: Vec<(String, String, i64, Vec<(String, String)>, String)>,
    requests: Vec<Value>,
    logs: Vec<(Level, String)>,
    progress: Vec<f64>,
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
}
