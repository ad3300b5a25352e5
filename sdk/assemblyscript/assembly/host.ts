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

/** Abort handler for `--use abort=…`: logs the failure at error level, then traps. */
export function abortHandler(message: string | null, file: string | null, line: u32, column: u32): void {
  const m = message != null ? message : "abort";
  const f = file != null ? file : "?";
  log(Level.Error, "abort: " + m + " at " + f + ":" + line.toString() + ":" + column.toString());
  unreachable();
}
