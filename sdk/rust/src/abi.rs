//! Memory and result ownership of ABI v1 (`docs/abi.md`).
//!
//! * [`alloc`]/[`dealloc`] back the `alloc`/`dealloc` exports with the Rust global
//!   allocator (alignment 1), so buffers the host writes can be adopted as `Vec<u8>`.
//! * The result of a guest call is kept alive in a single slot until the next call into
//!   the guest ([`call`] frees it first), as the ABI requires.
//! * Input buffers written by the host are owned by the guest: [`call`] frees them when the
//!   handler returns.

use crate::json::Value;
use std::alloc::{self, Layout};
use std::cell::UnsafeCell;

/// Packs a pointer and a length into an ABI v1 `i64` result: `(ptr << 32) | len`.
pub fn pack(ptr: u32, len: u32) -> u64 {
    ((ptr as u64) << 32) | len as u64
}

/// Splits an ABI v1 packed result into `(ptr, len)`.
pub fn unpack(packed: u64) -> (u32, u32) {
    ((packed >> 32) as u32, packed as u32)
}

/// Returns a pointer to `size` writable bytes; a non-null dangling pointer for `size == 0`.
/// Aborts (traps) when memory is exhausted, which the host reports as a failed task.
pub fn alloc(size: usize) -> *mut u8 {
    if size == 0 {
        return std::ptr::NonNull::<u8>::dangling().as_ptr();
    }
    let layout = Layout::from_size_align(size, 1).expect("alloc: size overflows");
    // SAFETY: layout has non-zero size.
    let p = unsafe { alloc::alloc(layout) };
    if p.is_null() {
        alloc::handle_alloc_error(layout);
    }
    p
}

/// Frees a buffer obtained from [`alloc`] with the same `size`. Null or zero-size is a no-op.
///
/// # Safety
/// `ptr` must come from [`alloc`] with exactly this `size` and not have been freed.
pub unsafe fn dealloc(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size == 0 {
        return;
    }
    alloc::dealloc(ptr, Layout::from_size_align_unchecked(size, 1));
}

/// Takes ownership of a buffer the host wrote into memory from [`alloc`].
///
/// # Safety
/// `(ptr, len)` must be a live buffer from [`alloc`] of exactly `len` bytes (or `len == 0`).
pub unsafe fn adopt(ptr: *mut u8, len: usize) -> Vec<u8> {
    if ptr.is_null() || len == 0 {
        return Vec::new();
    }
    Vec::from_raw_parts(ptr, len, len)
}

struct Slot(UnsafeCell<Option<Vec<u8>>>);

// SAFETY: WebAssembly plugins are single-threaded; the slot is only touched from the
// exported entry points, which the host never runs concurrently on one instance.
unsafe impl Sync for Slot {}

static LAST_RESULT: Slot = Slot(UnsafeCell::new(None));

/// Frees the previous result, if any. Called at the start of every result-returning export.
pub fn release_last() {
    // SAFETY: see `Slot`; no reference into the slot outlives this statement.
    unsafe { *LAST_RESULT.0.get() = None }
}

/// Keeps `bytes` alive until the next call and returns its packed location (0 when empty).
pub fn keep(bytes: Vec<u8>) -> u64 {
    if bytes.is_empty() {
        release_last();
        return 0;
    }
    let packed = pack(bytes.as_ptr() as usize as u32, bytes.len() as u32);
    // SAFETY: see `Slot`. Moving a Vec does not move its heap buffer.
    unsafe { *LAST_RESULT.0.get() = Some(bytes) }
    packed
}

/// Packs a `'static` document (schemas, metadata): it lives forever, nothing to keep.
pub fn static_result(doc: &'static str) -> u64 {
    release_last();
    if doc.is_empty() {
        return 0;
    }
    pack(doc.as_ptr() as usize as u32, doc.len() as u32)
}

/// What a handler returns: a JSON result, or an [`Error`] turned into an `{"error": …}`
/// object that marks the task failed.
pub type Result = std::result::Result<Value, Error>;

/// What an `execute_raw` handler returns: the result's JSON text, or a failure.
pub type RawResult = std::result::Result<Vec<u8>, Error>;

/// A plugin failure. Rendered as `{"error": message}` plus `"code": code` when set.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// Human-readable message; becomes the task's error.
    pub message: String,
    /// Optional machine-readable code.
    pub code: Option<String>,
}

impl Error {
    /// An error with a message only.
    pub fn new(message: impl Into<String>) -> Error {
        Error { message: message.into(), code: None }
    }

    /// An error with a message and a code.
    pub fn with_code(message: impl Into<String>, code: impl Into<String>) -> Error {
        Error { message: message.into(), code: Some(code.into()) }
    }

    /// The `{"error": …, "code": …}` object the host reads as a failure.
    pub fn to_value(&self) -> Value {
        let mut v = Value::object().with("error", self.message.as_str());
        if let Some(code) = &self.code {
            v.set("code", code.as_str());
        }
        v
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(c) => write!(f, "{} ({})", self.message, c),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::json::ParseError> for Error {
    fn from(e: crate::json::ParseError) -> Error {
        Error::with_code(format!("invalid JSON: {}", e), "E_JSON")
    }
}

/// Runs one `(ptr, len) -> i64` export: frees the previous result, adopts and parses the
/// input, calls `handler`, serializes its answer and keeps it alive until the next call.
///
/// # Safety
/// `(ptr, len)` must be a buffer from [`alloc`] that the host handed over.
pub unsafe fn call(ptr: *mut u8, len: usize, handler: fn(Value) -> Result) -> u64 {
    release_last();
    let input = adopt(ptr, len);
    let answer = match Value::parse_bytes(&input) {
        Ok(v) => {
            drop(input);
            handler(v).unwrap_or_else(|e| e.to_value())
        }
        Err(e) => Error::with_code(format!("invalid input: {}", e), "E_INPUT").to_value(),
    };
    keep(answer.to_json().into_bytes())
}

/// Runs an `execute_raw` export: [`call`] without the [`Value`] tree. `handler` gets the
/// input's JSON text as the host wrote it (one JSON value) and returns the result's JSON
/// text, which the host checks: a result that is not JSON fails the task, and so does an
/// object with a top-level `"error"` member (the ABI's failure); empty text is no result.
/// Parsing and
/// re-serializing a small input costs a call about as much as the host spends on it, so
/// a handler that forwards or stores JSON should take it as text.
///
/// # Safety
/// `(ptr, len)` must be a buffer from [`alloc`] that the host handed over.
pub unsafe fn call_raw(ptr: *mut u8, len: usize, handler: fn(&[u8]) -> RawResult) -> u64 {
    release_last();
    let input = adopt(ptr, len);
    let answer = handler(&input).unwrap_or_else(|e| e.to_value().to_json().into_bytes());
    drop(input);
    keep(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trip() {
        assert_eq!(pack(0x1234, 0x10), 0x0000_1234_0000_0010);
        assert_eq!(unpack(pack(u32::MAX, 7)), (u32::MAX, 7));
    }

    fn double(v: Value) -> Result {
        match v.get("n").and_then(Value::as_i64) {
            Some(n) => Ok(Value::object().with("n", n * 2)),
            None => Err(Error::with_code("n missing", "E_N")),
        }
    }

    fn run(input: &[u8]) -> String {
        let p = alloc(input.len());
        unsafe {
            std::ptr::copy_nonoverlapping(input.as_ptr(), p, input.len());
            let packed = call(p, input.len(), double);
            let (rp, rl) = unpack(packed);
            // On the native test target pointers are 64-bit; read through the slot instead.
            let _ = (rp, rl);
            let slot = &*LAST_RESULT.0.get();
            String::from_utf8(slot.clone().unwrap_or_default()).unwrap()
        }
    }

    fn wrap(input: &[u8]) -> RawResult {
        if input.is_empty() {
            return Err(Error::with_code("empty", "E_EMPTY"));
        }
        let mut out = b"{\"got\": ".to_vec();
        out.extend_from_slice(input);
        out.push(b'}');
        Ok(out)
    }

    fn run_raw(input: &[u8]) -> String {
        let p = alloc(input.len());
        unsafe {
            std::ptr::copy_nonoverlapping(input.as_ptr(), p, input.len());
            let _ = call_raw(p, input.len(), wrap);
            let slot = &*LAST_RESULT.0.get();
            String::from_utf8(slot.clone().unwrap_or_default()).unwrap()
        }
    }

    // LAST_RESULT is one slot, as in a (single-threaded) wasm instance: the tests that use
    // it run in this one test, not in parallel threads.
    #[test]
    fn call_and_call_raw_handle_success_errors_and_bad_input() {
        assert_eq!(run_raw(b"[1, 2.50]"), "{\"got\": [1, 2.50]}");
        assert_eq!(run_raw(b""), "{\"error\":\"empty\",\"code\":\"E_EMPTY\"}");
        assert_eq!(run(b"{\"n\":21}"), "{\"n\":42}");
        assert_eq!(run(b"{}"), "{\"error\":\"n missing\",\"code\":\"E_N\"}");
        assert!(run(b"{").starts_with("{\"error\":\"invalid input: "));
        release_last();
        unsafe { dealloc(alloc(0), 0) };
    }
}
