//! The `apflow` host functions (`docs/abi.md`, "Host functions").
//!
//! On `wasm32` these call the host imports. On other targets (native `cargo test` of a
//! plugin's logic) they are served by [`crate::mock`], which a test sets up and reads
//! back: `log` (also printed to stderr) and `progress` are recorded, `http_request`
//! answers the responses set with `mock::respond` (an error naming the method and URL
//! otherwise) and `config_get` the values set with `mock::set_config` (`None` otherwise);
//! `sleep_ms` returns at once (refusing the durations the host refuses), the `kv_*`
//! functions answer [`KvError`] with code `unavailable`, and `llm_complete` answers the
//! responses queued with `mock::respond_llm` (or the errors of `mock::fail_llm`), in
//! order.

use crate::json::Value;

/// Log levels of the `log` host function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Level {
    /// 0
    Trace = 0,
    /// 1
    Debug = 1,
    /// 2
    Info = 2,
    /// 3
    Warn = 3,
    /// 4
    Error = 4,
}

#[cfg(target_arch = "wasm32")]
mod imports {
    #[link(wasm_import_module = "apflow")]
    extern "C" {
        pub fn log(level: i32, ptr: *const u8, len: usize);
        pub fn progress(value: f64);
        pub fn http_request(ptr: *const u8, len: usize) -> u64;
        pub fn config_get(ptr: *const u8, len: usize) -> u64;
        pub fn sleep_ms(ms: i64) -> i32;
        pub fn kv_get(ptr: *const u8, len: usize) -> u64;
        pub fn kv_set(ptr: *const u8, len: usize) -> u64;
        pub fn kv_delete(ptr: *const u8, len: usize) -> u64;
        pub fn kv_list(ptr: *const u8, len: usize) -> u64;
        pub fn llm_complete(ptr: *const u8, len: usize) -> u64;
    }
}

/// Takes ownership of a buffer the host returned (packed), which it allocated with our
/// `alloc`; `None` for the packed value 0.
#[cfg(target_arch = "wasm32")]
fn take(packed: u64) -> Option<Vec<u8>> {
    let (ptr, len) = crate::abi::unpack(packed);
    if packed == 0 {
        return None;
    }
    // SAFETY: the host wrote `len` bytes into a buffer it got from our `alloc(len)` and
    // handed it over to us.
    Some(unsafe { crate::abi::adopt(ptr as usize as *mut u8, len as usize) })
}

/// Writes one line to the task's log.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host only reads `message` during the call.
    unsafe {
        imports::log(level as i32, message.as_ptr(), message.len())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        eprintln!("[{:?}] {}", level, message);
        crate::mock::record_log(level, message);
    }
}

/// Logs at info level.
pub fn info(message: &str) {
    log(Level::Info, message)
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// Logs at error level.
pub fn error(message: &str) {
    log(Level::Error, message)
}

/// Logs at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message)
}

/// Reports the task's progress; the host clamps it to 0..1.
pub fn progress(value: f64) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: plain value call.
    unsafe {
        imports::progress(value)
    }
    #[cfg(not(target_arch = "wasm32"))]
    crate::mock::record_progress(value);
}

/// An HTTP request for [`http_request`]. Needs the `http` grant for the URL's host.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
    /// Request body (text).
    pub body: Option<String>,
    /// Per-request timeout; the host's default when `None`.
    pub timeout_ms: Option<u32>,
}

impl Request {
    /// A `GET` of `url`.
    pub fn get(url: &str) -> Request {
        Request { method: "GET".into(), url: url.into(), ..Request::default() }
    }

    /// The request document of the ABI.
    pub fn to_value(&self) -> Value {
        let mut v = Value::object().with("method", self.method.as_str()).with("url", self.url.as_str());
        if !self.headers.is_empty() {
            let pairs = self.headers.iter().map(|(k, val)| (k.clone(), Value::from(val.as_str()))).collect();
            v.set("headers", Value::Object(pairs));
        }
        if let Some(b) = &self.body {
            v.set("body", b.as_str());
        }
        if let Some(t) = self.timeout_ms {
            v.set("timeout_ms", t);
        }
        v
    }
}

/// An HTTP answer from [`http_request`].
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: i64,
    /// Response headers as the host reported them.
    pub headers: Value,
    /// Response body (text).
    pub body: String,
}

/// Performs an HTTP request through the host. `Err` carries the host's refusal or failure
/// message (`"no response"` when the host returned nothing).
pub fn http_request(req: &Request) -> Result<Response, String> {
    let doc = req.to_value().to_json();
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host reads `doc` during the call and hands back an owned buffer.
    let answer = take(unsafe { imports::http_request(doc.as_ptr(), doc.len()) });
    #[cfg(not(target_arch = "wasm32"))]
    let answer: Option<Vec<u8>> = Some(crate::mock::http_answer(&doc));
    let bytes = answer.ok_or_else(|| "no response".to_string())?;
    let v = Value::parse_bytes(&bytes).map_err(|e| format!("malformed host answer: {}", e))?;
    if let Some(err) = v.get("error") {
        return Err(err.as_str().map(str::to_string).unwrap_or_else(|| err.to_json()));
    }
    Ok(Response {
        status: v.get("status").and_then(Value::as_i64).unwrap_or(0),
        headers: v.get("headers").cloned().unwrap_or_else(Value::object),
        body: v.get("body").and_then(Value::as_str).unwrap_or("").to_string(),
    })
}

/// The value of a config key or secret granted to this plugin; `None` when not granted or
/// not set.
pub fn config_get(key: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host reads `key` during the call and hands back an owned buffer.
    let answer = take(unsafe { imports::config_get(key.as_ptr(), key.len()) });
    #[cfg(not(target_arch = "wasm32"))]
    let answer: Option<Vec<u8>> = crate::mock::config(key).map(String::into_bytes);
    answer.map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The longest sleep the native stand-in of [`sleep_ms`] accepts: the host's default
/// ceiling of a task's timeout (the host refuses sleeps above its operator's ceiling).
pub const MAX_SLEEP_MS: i64 = 3_600_000;

/// Why [`sleep_ms`] did not sleep the whole time: the statuses of the `sleep_ms` host
/// function (`docs/abi.md`, "sleep_ms") other than 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SleepError {
    /// Status 1: the task was cancelled (or the host is shutting down) during the sleep.
    /// The task is over: it fails as cancelled whatever the plugin returns.
    Cancelled,
    /// Status 2: the task's deadline (its timeout) passed during the sleep, which ended
    /// there. The task is over: it fails timed out whatever the plugin returns.
    Deadline,
    /// Status 3: the duration was negative or longer than the longest task timeout;
    /// nothing was slept.
    Invalid,
    /// Status 4: the plugin lacks the `clock` grant; nothing was slept.
    NotGranted,
    /// A status this kit does not know.
    Unknown(i32),
}

impl SleepError {
    /// The error code a failed task carries for it: `cancelled`, `deadline_exceeded` or
    /// `sleep_refused`.
    pub fn code(&self) -> &'static str {
        match self {
            SleepError::Cancelled => "cancelled",
            SleepError::Deadline => "deadline_exceeded",
            _ => "sleep_refused",
        }
    }
}

impl std::fmt::Display for SleepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SleepError::Cancelled => f.write_str("sleep ended: the task was cancelled"),
            SleepError::Deadline => f.write_str("sleep ended: the task's deadline passed"),
            SleepError::Invalid => f.write_str("sleep refused: negative or longer than the longest task timeout"),
            SleepError::NotGranted => f.write_str("sleep refused: capability clock not granted to this plugin"),
            SleepError::Unknown(s) => write!(f, "sleep_ms: unknown status {}", s),
        }
    }
}

impl std::error::Error for SleepError {}

impl From<SleepError> for crate::Error {
    fn from(e: SleepError) -> crate::Error {
        crate::Error::with_code(e.to_string(), e.code())
    }
}

/// Turns a status of the `sleep_ms` host function into a result.
pub fn sleep_status(status: i32) -> std::result::Result<(), SleepError> {
    match status {
        0 => Ok(()),
        1 => Err(SleepError::Cancelled),
        2 => Err(SleepError::Deadline),
        3 => Err(SleepError::Invalid),
        4 => Err(SleepError::NotGranted),
        s => Err(SleepError::Unknown(s)),
    }
}

/// Sleeps `ms` milliseconds through the host (capability `clock`): the sleep for polling
/// and retry with backoff. It ends early, never past the task's deadline, with
/// [`SleepError::Cancelled`] or [`SleepError::Deadline`] when the task is cancelled or
/// its deadline passes; the task is then over, so return the error at once (`?` turns
/// it into an [`Error`](crate::Error) with its code). `std::thread::sleep` also waits
/// with the clock grant, but a cancel or deadline ends the call inside it without the
/// plugin learning, and without the grant it returns at once.
pub fn sleep_ms(ms: i64) -> std::result::Result<(), SleepError> {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: plain value call.
    let status = unsafe { imports::sleep_ms(ms) };
    #[cfg(not(target_arch = "wasm32"))]
    let status = if (0..=MAX_SLEEP_MS).contains(&ms) { 0 } else { 3 };
    sleep_status(status)
}

/// A refused `kv_*` call (`docs/kv.md`): the host's code (`not_granted`,
/// `quota_exceeded`, `too_large`, `bad_key`, `bad_request`, `unavailable`) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvError {
    /// The host's code, without the `kv_` prefix [`KvError::code`] adds.
    pub host_code: String,
    /// The host's message.
    pub message: String,
}

impl KvError {
    /// The error code a failed task carries for it: `kv_` and the host's code, e.g.
    /// `kv_not_granted`, `kv_quota_exceeded` (the codes of every kit).
    pub fn code(&self) -> String {
        format!("kv_{}", self.host_code)
    }
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KvError {}

impl From<KvError> for crate::Error {
    fn from(e: KvError) -> crate::Error {
        crate::Error::with_code(e.message.clone(), e.code())
    }
}

/// Sends the request `req` to the kv host function `func` and returns its answer, or the
/// host's refusal.
fn kv_call(func: &str, req: &Value) -> std::result::Result<Value, KvError> {
    let doc = req.to_json();
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host reads `doc` during the call and hands back an owned buffer.
    let answer = take(unsafe {
        match func {
            "kv_get" => imports::kv_get(doc.as_ptr(), doc.len()),
            "kv_set" => imports::kv_set(doc.as_ptr(), doc.len()),
            "kv_delete" => imports::kv_delete(doc.as_ptr(), doc.len()),
            _ => imports::kv_list(doc.as_ptr(), doc.len()),
        }
    });
    #[cfg(not(target_arch = "wasm32"))]
    let answer: Option<Vec<u8>> = {
        let _ = doc;
        Some(b"{\"error\":\"no host\",\"code\":\"unavailable\"}".to_vec())
    };
    let refused = |code: &str, message: String| KvError { host_code: code.into(), message };
    let bytes = answer.ok_or_else(|| refused("unavailable", format!("{}: no response", func)))?;
    let v = Value::parse_bytes(&bytes).map_err(|e| refused("unavailable", format!("{}: malformed host answer: {}", func, e)))?;
    if let Some(err) = v.get("error") {
        let message = err.as_str().map(str::to_string).unwrap_or_else(|| err.to_json());
        let code = v.get("code").and_then(Value::as_str).unwrap_or("unavailable");
        return Err(refused(code, message));
    }
    Ok(v)
}

/// Reads `key` from the plugin's key-value space (capability `kv`, `docs/kv.md`):
/// `Ok(None)` when the key has no entry or its entry expired.
pub fn kv_get(key: &str) -> std::result::Result<Option<Value>, KvError> {
    let v = kv_call("kv_get", &Value::object().with("key", key))?;
    if v.get("found").and_then(Value::as_bool) != Some(true) {
        return Ok(None);
    }
    Ok(Some(v.get("value").cloned().unwrap_or(Value::Null)))
}

fn set_request(key: &str, value: &Value, ttl_ms: u64, if_absent: bool) -> Value {
    let mut req = Value::object().with("key", key);
    req.set("value", value.clone());
    if ttl_ms > 0 {
        req.set("ttl_ms", ttl_ms);
    }
    if if_absent {
        req.set("if_absent", true);
    }
    req
}

/// Stores `value` under `key`, replacing the key's entry; it expires after `ttl_ms`
/// milliseconds, or never with 0. Over the space's quota, or with a value over
/// `max_value_bytes`, nothing is written and the error's code says why.
pub fn kv_set(key: &str, value: &Value, ttl_ms: u64) -> std::result::Result<(), KvError> {
    kv_call("kv_set", &set_request(key, value, ttl_ms, false)).map(|_| ())
}

/// Stores `value` under `key` only when the key has no live entry, atomically (a
/// claim: of several tasks claiming one key at once, exactly one gets `Ok(true)`).
pub fn kv_set_if_absent(key: &str, value: &Value, ttl_ms: u64) -> std::result::Result<bool, KvError> {
    let v = kv_call("kv_set", &set_request(key, value, ttl_ms, true))?;
    Ok(v.get("stored").and_then(Value::as_bool) == Some(true))
}

/// Deletes `key`'s entry; `Ok(true)` when there was a live one.
pub fn kv_delete(key: &str) -> std::result::Result<bool, KvError> {
    let v = kv_call("kv_delete", &Value::object().with("key", key))?;
    Ok(v.get("deleted").and_then(Value::as_bool) == Some(true))
}

/// Lists, in byte order, up to `limit` keys (0: the host's default of 100, at most
/// 1000) that start with `prefix` and come after `after` (`""` for the first page). The
/// second value is the `after` of the next page, `None` on the last one.
pub fn kv_list(prefix: &str, after: &str, limit: u32) -> std::result::Result<(Vec<String>, Option<String>), KvError> {
    let mut req = Value::object();
    if !prefix.is_empty() {
        req.set("prefix", prefix);
    }
    if !after.is_empty() {
        req.set("after", after);
    }
    if limit > 0 {
        req.set("limit", limit);
    }
    let v = kv_call("kv_list", &req)?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    Ok((keys, v.get("next").and_then(Value::as_str).map(str::to_string)))
}

/// One message of a conversation: `role` is `system`, `user` or `assistant`.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The message's text.
    pub content: String,
}

impl LlmMessage {
    /// A message of `role`.
    pub fn new(role: &str, content: &str) -> LlmMessage {
        LlmMessage { role: role.into(), content: content.into() }
    }
}

/// A completion asked of the operator's language model with [`llm_complete`]. Needs the
/// `llm` grant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmRequest {
    /// The conversation, oldest first; at least one message.
    pub messages: Vec<LlmMessage>,
    /// Bounds the answer; `None` takes the provider's default.
    pub max_tokens: Option<u32>,
    /// Overrides the provider's default temperature.
    pub temperature: Option<f64>,
    /// Asks for a JSON object as the answer, where the provider can enforce it.
    pub json: bool,
}

impl LlmRequest {
    /// A request of one user message.
    pub fn user(content: &str) -> LlmRequest {
        LlmRequest { messages: vec![LlmMessage::new("user", content)], ..LlmRequest::default() }
    }

    /// The request document of the ABI.
    pub fn to_value(&self) -> Value {
        let msgs: Vec<Value> = self
            .messages
            .iter()
            .map(|m| Value::object().with("role", m.role.as_str()).with("content", m.content.as_str()))
            .collect();
        let mut v = Value::object().with("messages", Value::Array(msgs));
        if let Some(n) = self.max_tokens {
            v.set("max_tokens", n);
        }
        if let Some(t) = self.temperature {
            v.set("temperature", t);
        }
        if self.json {
            v.set("json", true);
        }
        v
    }
}

/// The tokens of one completion, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LlmUsage {
    /// Tokens of the request.
    pub input_tokens: i64,
    /// Tokens of the answer.
    pub output_tokens: i64,
}

/// The model's answer from [`llm_complete`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmResponse {
    /// The answer's text.
    pub content: String,
    /// The model that answered.
    pub model: String,
    /// Why the model stopped, as the provider said (may be empty).
    pub stop_reason: String,
    /// The tokens it used (also counted in the task's usage).
    pub usage: LlmUsage,
}

impl LlmResponse {
    /// The answer document of the ABI.
    pub fn to_value(&self) -> Value {
        let usage = Value::object()
            .with("input_tokens", self.usage.input_tokens)
            .with("output_tokens", self.usage.output_tokens);
        let mut v = Value::object().with("content", self.content.as_str()).with("model", self.model.as_str());
        if !self.stop_reason.is_empty() {
            v.set("stop_reason", self.stop_reason.as_str());
        }
        v.with("usage", usage)
    }
}

/// Codes of the errors [`llm_complete`] returns: the host's codes (`docs/abi.md`).
pub mod llm_code {
    /// The plugin lacks the `llm` grant.
    pub const NOT_GRANTED: &str = "llm_not_granted";
    /// The operator configured no provider.
    pub const NOT_CONFIGURED: &str = "llm_not_configured";
    /// The call would exceed a token budget (the task's or its user's).
    pub const BUDGET_EXCEEDED: &str = "llm_budget_exceeded";
    /// The provider refused or failed the request.
    pub const PROVIDER_ERROR: &str = "llm_provider_error";
    /// The host refused the request (no message, an unknown role, …).
    pub const INVALID_REQUEST: &str = "invalid_request";
}

/// Asks the operator's language model (capability `llm`); the provider's keys stay in the
/// host and the tokens count in the task's usage. `Err` carries the host's message and
/// its code (one of [`llm_code`]), so that `?` fails the task with that code. When the
/// task is cancelled or its deadline passes during the request, the call ends there and
/// this does not return.
pub fn llm_complete(req: &LlmRequest) -> std::result::Result<LlmResponse, crate::Error> {
    let doc = req.to_value().to_json();
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host reads `doc` during the call and hands back an owned buffer.
    let answer = take(unsafe { imports::llm_complete(doc.as_ptr(), doc.len()) });
    #[cfg(not(target_arch = "wasm32"))]
    let answer: Option<Vec<u8>> = Some(crate::mock::llm_answer(&doc));
    llm_answer(answer)
}

/// Turns the host's llm_complete answer into a result.
fn llm_answer(answer: Option<Vec<u8>>) -> std::result::Result<LlmResponse, crate::Error> {
    let failed = |message: String| crate::Error::with_code(message, llm_code::PROVIDER_ERROR);
    let bytes = answer.ok_or_else(|| failed("llm_complete: no response".into()))?;
    let v = Value::parse_bytes(&bytes).map_err(|e| failed(format!("llm_complete: malformed host answer: {}", e)))?;
    if let Some(err) = v.get("error") {
        let message = err.as_str().map(str::to_string).unwrap_or_else(|| err.to_json());
        let code = v.get("code").and_then(Value::as_str).unwrap_or(llm_code::PROVIDER_ERROR);
        return Err(crate::Error::with_code(format!("llm_complete: {}", message), code));
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let tokens = |k: &str| v.get("usage").and_then(|u| u.get(k)).and_then(Value::as_i64).unwrap_or(0);
    Ok(LlmResponse {
        content: text("content"),
        model: text("model"),
        stop_reason: text("stop_reason"),
        usage: LlmUsage { input_tokens: tokens("input_tokens"), output_tokens: tokens("output_tokens") },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llm_request_document() {
        let mut req = LlmRequest::user("hi");
        req.messages.insert(0, LlmMessage::new("system", "be brief"));
        req.max_tokens = Some(20);
        req.temperature = Some(0.5);
        req.json = true;
        assert_eq!(
            req.to_value().to_json(),
            r#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}],"max_tokens":20,"temperature":0.5,"json":true}"#
        );
        assert_eq!(LlmRequest::user("x").to_value().to_json(), r#"{"messages":[{"role":"user","content":"x"}]}"#);
    }

    #[test]
    fn llm_answers_and_errors() {
        let got = llm_answer(Some(
            br#"{"content":"hello","model":"m","stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#.to_vec(),
        ))
        .unwrap();
        let want = LlmResponse {
            content: "hello".into(),
            model: "m".into(),
            stop_reason: "end_turn".into(),
            usage: LlmUsage { input_tokens: 3, output_tokens: 1 },
        };
        assert_eq!(got, want);
        let err = llm_answer(Some(br#"{"error":"spent","code":"llm_budget_exceeded"}"#.to_vec())).unwrap_err();
        assert_eq!(err.code.as_deref(), Some(llm_code::BUDGET_EXCEEDED));
        assert_eq!(err.message, "llm_complete: spent");
        assert_eq!(llm_answer(None).unwrap_err().code.as_deref(), Some(llm_code::PROVIDER_ERROR));
    }

    #[test]
    fn sleep_statuses() {
        let cases = [
            (0, Ok(()), ""),
            (1, Err(SleepError::Cancelled), "cancelled"),
            (2, Err(SleepError::Deadline), "deadline_exceeded"),
            (3, Err(SleepError::Invalid), "sleep_refused"),
            (4, Err(SleepError::NotGranted), "sleep_refused"),
            (9, Err(SleepError::Unknown(9)), "sleep_refused"),
        ];
        for (status, want, code) in cases {
            let got = sleep_status(status);
            assert_eq!(got, want, "status {}", status);
            if let Err(e) = got {
                let err: crate::Error = e.into();
                assert_eq!(err.code.as_deref(), Some(code), "status {}", status);
                assert_eq!(err.message, e.to_string());
            }
        }
    }

    #[test]
    fn kv_errors_carry_the_host_code() {
        let err = kv_get("k").unwrap_err();
        assert_eq!(err.code(), "kv_unavailable");
        let e: crate::Error = err.into();
        assert_eq!(e.code.as_deref(), Some("kv_unavailable"));
        assert_eq!(e.message, "no host");
        let req = set_request("k", &Value::from("v"), 5, true).to_json();
        assert_eq!(req, r#"{"key":"k","value":"v","ttl_ms":5,"if_absent":true}"#);
    }

    #[test]
    fn native_sleep_refuses_what_the_host_refuses() {
        assert_eq!(sleep_ms(0), Ok(()));
        assert_eq!(sleep_ms(MAX_SLEEP_MS), Ok(()));
        assert_eq!(sleep_ms(-1), Err(SleepError::Invalid));
        assert_eq!(sleep_ms(MAX_SLEEP_MS + 1), Err(SleepError::Invalid));
    }

    fn retried(failures: usize) -> (crate::Result, Vec<i64>) {
        let mut waits = Vec::new();
        let mut left = failures;
        let res = retry_with_backoff(3, 100, |wait| {
            waits.push(wait);
            sleep_ms(wait)
        }, || {
            if left > 0 {
                left -= 1;
                Err(crate::Error::with_code("upstream 503", "http_status"))
            } else {
                Ok(Value::from("done"))
            }
        });
        (res, waits)
    }

    #[test]
    fn backoff_pattern() {
        let (res, waits) = retried(2);
        assert_eq!(res.ok(), Some(Value::from("done")));
        assert_eq!(waits, vec![100, 200]);
        let (res, waits) = retried(5);
        assert_eq!(res.err().and_then(|e| e.code), Some("http_status".to_string()));
        assert_eq!(waits, vec![100, 200]);
    }

    /// The retry loop of the kit's README: at most `attempts` tries, waiting `first_ms`
    /// then twice as long before each retry; a failed sleep ends the loop with its error.
    fn retry_with_backoff(
        attempts: usize,
        first_ms: i64,
        mut sleep: impl FnMut(i64) -> std::result::Result<(), SleepError>,
        mut op: impl FnMut() -> crate::Result,
    ) -> crate::Result {
        let mut wait = first_ms;
        let mut attempt = 1;
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(e) if attempt == attempts => return Err(e),
                Err(_) => {}
            }
            sleep(wait)?;
            wait *= 2;
            attempt += 1;
        }
    }
}
