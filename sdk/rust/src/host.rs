//! The `apflow` host functions (`docs/abi.md`, "Host functions").
//!
//! On `wasm32` these call the host imports. On other targets (native `cargo test` of a
//! plugin's logic) they have harmless stand-ins: `log` prints to stderr, `progress` does
//! nothing, `http_request` answers `{"error": "no host"}` and `config_get` answers `None`.

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
    eprintln!("[{:?}] {}", level, message);
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
    let _ = value;
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
    let answer: Option<Vec<u8>> = {
        let _ = doc;
        Some(b"{\"error\":\"no host\"}".to_vec())
    };
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
    let answer: Option<Vec<u8>> = {
        let _ = key;
        None
    };
    answer.map(|b| String::from_utf8_lossy(&b).into_owned())
}
