// Test module for the kit: echo re-serializes its input, so the test can check parsing,
// serialization and the ABI memory rules from the outside.
import { call, errorResult, Value, host, hookInputs, replaceInputs, unchanged, taskString, taskMethod } from "../assembly/index";
export { alloc, dealloc } from "../assembly/index";

function echo(input: Value): Value {
  return input;
}

function fails(input: Value): Value {
  return errorResult("bad \"thing\"", "E_X");
}

function config(input: Value): Value {
  const v = host.configGet(input.get("key")!.s);
  return v == null ? Value.null() : Value.str(v);
}

export function execute(ptr: usize, len: usize): u64 { return call(ptr, len, echo); }
export function fail(ptr: usize, len: usize): u64 { return call(ptr, len, fails); }
export function cfg(ptr: usize, len: usize): u64 { return call(ptr, len, config); }

// pre_hook adds "_by": "<task name>/<method>" to the inputs; {} without a task name.
function pre(input: Value): Value {
  const name = taskString(input, "name");
  if (name == null) return unchanged();
  const method = taskMethod(input);
  return replaceInputs(hookInputs(input).set("_by", Value.str(name + "/" + (method != null ? method : "-"))));
}

export function pre_hook(ptr: usize, len: usize): u64 { return call(ptr, len, pre); }

// retry calls http_request up to input.attempts times until it answers a status below
// 500, sleeping input.wait_ms, then twice as long, before each retry (the backoff pattern
// of the README); a sleep that does not return Ok ends it with that sleep's error.
function retry(input: Value): Value {
  const attempts = input.get("attempts")!.asInt();
  let wait = input.get("wait_ms")!.asInt();
  let attempt: i64 = 1;
  while (true) {
    const r = host.httpGet("http://api.test/x");
    if (r.error.length == 0 && r.status < 500) break;
    if (attempt == attempts) return errorResult("gave up after " + attempt.toString() + " attempts", "unavailable");
    const s = host.sleepMs(wait);
    if (s != host.SleepStatus.Ok) return host.sleepError(s);
    wait *= 2;
    attempt++;
  }
  return Value.object().set("attempts", Value.int(attempt));
}

export function retry_export(ptr: usize, len: usize): u64 { return call(ptr, len, retry); }

// kv runs a claim-then-record sequence on key input.key: get, set, claim, list, delete;
// a refused call ends it with that call's error.
function kv(input: Value): Value {
  const key = input.get("key")!.s;
  const before = host.kvGet(key);
  if (before.error.length > 0) return host.kvError(before);
  const set = host.kvSet(key, Value.object().set("n", Value.int(1)), 60000);
  if (set.error.length > 0) return host.kvError(set);
  const claim = host.kvSet(key, Value.str("other"), 0, true);
  const got = host.kvGet(key);
  const list = host.kvList(key, "", 5);
  const del = host.kvDelete(key);
  const keys = Value.array();
  for (let i = 0; i < list.keys.length; i++) keys.push(Value.str(list.keys[i]));
  return Value.object().set("before", Value.bool(before.found)).set("claimed", Value.bool(claim.stored))
    .set("value", got.value).set("keys", keys).set("deleted", Value.bool(del.deleted));
}

export function kv_export(ptr: usize, len: usize): u64 { return call(ptr, len, kv); }

// llm asks one completion of input.prompt and returns the answer, or the host's error.
function llm(input: Value): Value {
  const msgs = Value.array();
  msgs.push(Value.object().set("role", Value.str("user")).set("content", Value.str(input.get("prompt")!.s)));
  const r = host.llmComplete(Value.object().set("messages", msgs).set("max_tokens", Value.int(20)));
  if (r.error.length > 0) return host.llmError(r);
  return Value.object().set("content", Value.str(r.content)).set("model", Value.str(r.model))
    .set("stop", Value.str(r.stopReason)).set("in", Value.int(r.inputTokens)).set("out", Value.int(r.outputTokens));
}

export function llm_export(ptr: usize, len: usize): u64 { return call(ptr, len, llm); }
