// The `apflow` host functions (docs/abi.md, "Host functions").
import { Parser, Value } from "./json";
import { takeString, errorResult } from "./abi";

// @ts-ignore: decorator
@external("apflow", "log")
declare function host_log(level: i32, ptr: usize, len: usize): void;
// @ts-ignore: decorator
@external("apflow", "progress")
declare function host_progress(value: f64): void;
// @ts-ignore: decorator
@external("apflow", "http_request")
declare function host_http_request(ptr: usize, len: usize): u64;
// @ts-ignore: decorator
@external("apflow", "config_get")
declare function host_config_get(ptr: usize, len: usize): u64;
// @ts-ignore: decorator
@external("apflow", "sleep_ms")
declare function host_sleep_ms(ms: i64): i32;

// @ts-ignore: decorator
@external("apflow", "kv_get")
declare function host_kv_get(ptr: usize, len: usize): u64;
// @ts-ignore: decorator
@external("apflow", "kv_set")
declare function host_kv_set(ptr: usize, len: usize): u64;
// @ts-ignore: decorator
@external("apflow", "kv_delete")
declare function host_kv_delete(ptr: usize, len: usize): u64;
// @ts-ignore: decorator
@external("apflow", "kv_list")
declare function host_kv_list(ptr: usize, len: usize): u64;

// @ts-ignore: decorator
@external("apflow", "llm_complete")
declare function host_llm_complete(ptr: usize, len: usize): u64;

export enum Level { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4 }

/** One line in the task's log. */
export function log(level: Level, message: string): void {
  const buf = String.UTF8.encode(message);
  host_log(level, changetype<usize>(buf), buf.byteLength);
}

export function info(message: string): void { log(Level.Info, message); }
export function warn(message: string): void { log(Level.Warn, message); }
export function error(message: string): void { log(Level.Error, message); }
export function debug(message: string): void { log(Level.Debug, message); }

/** The task's progress; the host clamps it to 0..1. */
export function progress(value: f64): void { host_progress(value); }

/** An HTTP answer. `error` is non-empty when the host refused or the request failed. */
export class Response {
  status: i64 = 0;
  headers: Value = Value.object();
  body: string = "";
  error: string = "";
}

/**
 * Performs an HTTP request through the host (needs the `http` grant). `request` is the
 * ABI's {"method","url","headers","body","timeout_ms"} object.
 */
export function httpRequest(request: Value): Response {
  const buf = String.UTF8.encode(request.stringify());
  const answer = takeString(host_http_request(changetype<usize>(buf), buf.byteLength));
  const r = new Response();
  if (answer == null) { r.error = "no response"; return r; }
  const p = new Parser();
  const v = p.parse(answer);
  if (v == null) { r.error = "malformed host answer: " + p.error; return r; }
  const err = v.get("error");
  if (err != null) {
    r.error = err.isString ? err.s : err.stringify();
    return r;
  }
  const status = v.get("status");
  if (status != null) r.status = status.asInt();
  const headers = v.get("headers");
  if (headers != null) r.headers = headers;
  const body = v.get("body");
  if (body != null && body.isString) r.body = body.s;
  return r;
}

/** A GET of `url`. */
export function httpGet(url: string): Response {
  return httpRequest(Value.object().set("method", Value.str("GET")).set("url", Value.str(url)));
}

/** The value of a granted config key or secret, or null when not granted or not set. */
export function configGet(key: string): string | null {
  const buf = String.UTF8.encode(key);
  return takeString(host_config_get(changetype<usize>(buf), buf.byteLength));
}

/** Statuses of the `sleep_ms` host function (docs/abi.md, "sleep_ms"). */
export enum SleepStatus {
  /** The whole time was slept. */
  Ok = 0,
  /** The task was cancelled during the sleep: it is over (it fails as cancelled). */
  Cancelled = 1,
  /** The task's deadline passed during the sleep, which ended there: it is over (it fails timed out). */
  Deadline = 2,
  /** Negative or longer than the longest task timeout: nothing was slept. */
  Invalid = 3,
  /** The plugin lacks the `clock` grant: nothing was slept. */
  NotGranted = 4,
}

/**
 * Sleeps `ms` milliseconds through the host (needs the `clock` grant): the sleep for
 * polling and retry with backoff. Returns SleepStatus.Ok after the whole wait, Cancelled
 * or Deadline as soon as the task is cancelled or its deadline passes (never sleeping past
 * it: the task is over, so return at once, e.g. `return sleepError(status)`), Invalid or
 * NotGranted without sleeping.
 */
export function sleepMs(ms: i64): SleepStatus {
  return host_sleep_ms(ms);
}

/** The error code of a sleep status: "cancelled", "deadline_exceeded", "sleep_refused"; "" for Ok. */
export function sleepErrorCode(status: SleepStatus): string {
  if (status == SleepStatus.Ok) return "";
  if (status == SleepStatus.Cancelled) return "cancelled";
  if (status == SleepStatus.Deadline) return "deadline_exceeded";
  return "sleep_refused";
}

/** What a sleep status means; "" for Ok. */
export function sleepErrorMessage(status: SleepStatus): string {
  switch (status) {
    case SleepStatus.Ok: return "";
    case SleepStatus.Cancelled: return "sleep ended: the task was cancelled";
    case SleepStatus.Deadline: return "sleep ended: the task's deadline passed";
    case SleepStatus.Invalid: return "sleep refused: negative or longer than the longest task timeout";
    case SleepStatus.NotGranted: return "sleep refused: capability clock not granted to this plugin";
    default: return "sleep_ms: unknown status " + (<i32>status).toString();
  }
}

/** The error result ({"error","code"}) a handler returns for a sleep status other than Ok. */
export function sleepError(status: SleepStatus): Value {
  return errorResult(sleepErrorMessage(status), sleepErrorCode(status));
}

/**
 * The answer of a kv call (docs/kv.md). `error` is "" when the call succeeded; otherwise
 * it is the host's message and `code` is "kv_" and the host's code ("kv_not_granted",
 * "kv_quota_exceeded", "kv_too_large", "kv_bad_key", "kv_bad_request",
 * "kv_unavailable"). The other fields are those of the call made.
 */
export class KvAnswer {
  error: string = "";
  code: string = "";
  /** kvGet: whether the key has a live entry, and its value. */
  found: bool = false;
  value: Value = Value.null();
  /** kvSet: whether the value was stored (false: ifAbsent and the key is taken). */
  stored: bool = false;
  /** kvDelete: whether there was a live entry. */
  deleted: bool = false;
  /** kvList: the keys of the page, and the `after` of the next page ("" on the last). */
  keys: Array<string> = [];
  next: string = "";
}

function kvCall(fn: string, request: Value): KvAnswer {
  const buf = String.UTF8.encode(request.stringify());
  const p = changetype<usize>(buf), n = <usize>buf.byteLength;
  let packed: u64 = 0;
  if (fn == "kv_get") packed = host_kv_get(p, n);
  else if (fn == "kv_set") packed = host_kv_set(p, n);
  else if (fn == "kv_delete") packed = host_kv_delete(p, n);
  else packed = host_kv_list(p, n);
  const a = new KvAnswer();
  const text = takeString(packed);
  if (text == null) { a.error = fn + ": no answer from the host"; a.code = "kv_unavailable"; return a; }
  const parser = new Parser();
  const v = parser.parse(text);
  if (v == null) { a.error = fn + ": malformed host answer: " + parser.error; a.code = "kv_unavailable"; return a; }
  const err = v.get("error");
  if (err != null) {
    a.error = err.isString ? err.s : err.stringify();
    const code = v.get("code");
    a.code = "kv_" + (code != null && code.isString ? code.s : "unavailable");
    return a;
  }
  const found = v.get("found");
  if (found != null) a.found = found.b;
  const value = v.get("value");
  if (value != null) a.value = value;
  const stored = v.get("stored");
  if (stored != null) a.stored = stored.b;
  const deleted = v.get("deleted");
  if (deleted != null) a.deleted = deleted.b;
  const keys = v.get("keys");
  if (keys != null) {
    const items = keys.asArray();
    for (let i = 0; i < items.length; i++) a.keys.push(items[i].s);
  }
  const next = v.get("next");
  if (next != null && next.isString) a.next = next.s;
  return a;
}

/** Reads `key` from the plugin's key-value space (needs the `kv` grant): `found` and `value`. */
export function kvGet(key: string): KvAnswer {
  return kvCall("kv_get", Value.object().set("key", Value.str(key)));
}

/**
 * Stores `value` under `key`, replacing the key's entry; it expires after `ttlMs`
 * milliseconds, or never with 0. With `ifAbsent`, stores only when the key has no live
 * entry, atomically (a claim): `stored` says whether it did. Over the quota, or with a
 * value over max_value_bytes, nothing is written and `error`/`code` say why.
 */
export function kvSet(key: string, value: Value, ttlMs: i64 = 0, ifAbsent: bool = false): KvAnswer {
  const req = Value.object().set("key", Value.str(key)).set("value", value);
  if (ttlMs != 0) req.set("ttl_ms", Value.int(ttlMs));
  if (ifAbsent) req.set("if_absent", Value.bool(true));
  return kvCall("kv_set", req);
}

/** Deletes `key`'s entry: `deleted` says whether there was a live one. */
export function kvDelete(key: string): KvAnswer {
  return kvCall("kv_delete", Value.object().set("key", Value.str(key)));
}

/**
 * Lists up to `limit` keys (0: the host's default of 100, at most 1000), in byte order,
 * that start with `prefix` and come after `after` ("" for the first page): `keys`, and
 * `next` for the following page.
 */
export function kvList(prefix: string = "", after: string = "", limit: i32 = 0): KvAnswer {
  const req = Value.object();
  if (prefix.length > 0) req.set("prefix", Value.str(prefix));
  if (after.length > 0) req.set("after", Value.str(after));
  if (limit != 0) req.set("limit", Value.int(limit));
  return kvCall("kv_list", req);
}

/** The error result ({"error","code"}) a handler returns for a refused kv call. */
export function kvError(a: KvAnswer): Value {
  return errorResult(a.error, a.code);
}

/**
 * The answer of llmComplete (docs/abi.md). `error` is "" when the model answered;
 * otherwise it is the host's message and `code` the host's code ("llm_not_granted",
 * "llm_not_configured", "llm_budget_exceeded", "llm_provider_error", "invalid_request").
 */
export class LlmResponse {
  error: string = "";
  code: string = "";
  /** The answer's text, the model that answered and why it stopped. */
  content: string = "";
  model: string = "";
  stopReason: string = "";
  /** The tokens it used (also counted in the task's usage). */
  inputTokens: i64 = 0;
  outputTokens: i64 = 0;
}

/**
 * Asks the operator's language model (needs the `llm` grant; the provider's keys stay in
 * the host). `request` is the ABI's {"messages":[{"role","content"}],"max_tokens",
 * "temperature","json"} object. When the task is cancelled or its deadline passes during
 * the request, the call ends there and this does not return.
 */
export function llmComplete(request: Value): LlmResponse {
  const buf = String.UTF8.encode(request.stringify());
  const text = takeString(host_llm_complete(changetype<usize>(buf), buf.byteLength));
  const r = new LlmResponse();
  if (text == null) { r.error = "llm_complete: no answer from the host"; r.code = "llm_provider_error"; return r; }
  const parser = new Parser();
  const v = parser.parse(text);
  if (v == null) { r.error = "llm_complete: malformed host answer: " + parser.error; r.code = "llm_provider_error"; return r; }
  const err = v.get("error");
  if (err != null) {
    r.error = err.isString ? err.s : err.stringify();
    const code = v.get("code");
    r.code = code != null && code.isString ? code.s : "llm_provider_error";
    return r;
  }
  const content = v.get("content");
  if (content != null && content.isString) r.content = content.s;
  const model = v.get("model");
  if (model != null && model.isString) r.model = model.s;
  const stop = v.get("stop_reason");
  if (stop != null && stop.isString) r.stopReason = stop.s;
  const usage = v.get("usage");
  if (usage != null) {
    const i = usage.get("input_tokens");
    if (i != null) r.inputTokens = i.asInt();
    const o = usage.get("output_tokens");
    if (o != null) r.outputTokens = o.asInt();
  }
  return r;
}

/** The error result ({"error","code"}) a handler returns for a failed llmComplete. */
export function llmError(r: LlmResponse): Value {
  return errorResult(r.error, r.code);
}

/** Abort handler for `--use abort=…`: logs the failure at error level, then traps. */
export function abortHandler(message: string | null, file: string | null, line: u32, column: u32): void {
  const m = message != null ? message : "abort";
  const f = file != null ? file : "?";
  log(Level.Error, "abort: " + m + " at " + f + ":" + line.toString() + ":" + column.toString());
  unreachable();
}
