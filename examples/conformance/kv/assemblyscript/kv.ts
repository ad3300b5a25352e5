// The kv conformance plugin, AssemblyScript edition (examples/conformance/kv_test.go).
import { call, staticResult, errorResult, Value, host } from "../../../../sdk/assemblyscript/assembly/index";
export { alloc, dealloc } from "../../../../sdk/assemblyscript/assembly/index";

export function get_metadata(): u64 {
  return staticResult(`{"id":"kv_assemblyscript","name":"KV (assemblyscript)","version":"1.0.0","capabilities":["kv"]}`);
}

export function get_input_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"key":{"type":"string"}},"required":["key"]}`);
}

// The sequence of examples/conformance/README.md ("kv"); a refused call ends it with that
// call's error and code.
function run(input: Value): Value {
  const k = input.get("key");
  if (k == null || !k.isString) return errorResult("key is required", "invalid_inputs");
  const key = k.s;
  const before = host.kvGet(key);
  if (before.error.length > 0) return host.kvError(before);
  const set = host.kvSet(key, Value.object().set("n", Value.int(1)), 60000);
  if (set.error.length > 0) return host.kvError(set);
  const claim = host.kvSet(key, Value.str("other"), 0, true);
  if (claim.error.length > 0) return host.kvError(claim);
  const got = host.kvGet(key);
  if (got.error.length > 0) return host.kvError(got);
  const second = host.kvSet(key + "/2", Value.bool(true));
  if (second.error.length > 0) return host.kvError(second);
  const list = host.kvList(key, "", 10);
  if (list.error.length > 0) return host.kvError(list);
  const del = host.kvDelete(key);
  if (del.error.length > 0) return host.kvError(del);
  const after = host.kvGet(key);
  if (after.error.length > 0) return host.kvError(after);
  const keys = Value.array();
  for (let i = 0; i < list.keys.length; i++) keys.push(Value.str(list.keys[i]));
  return Value.object().set("before", Value.bool(before.found)).set("claimed", Value.bool(claim.stored))
    .set("value", got.found ? got.value : Value.null()).set("keys", keys)
    .set("deleted", Value.bool(del.deleted)).set("after", Value.bool(after.found));
}

export function execute(ptr: usize, len: usize): u64 { return call(ptr, len, run); }
