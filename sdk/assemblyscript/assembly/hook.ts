// Helpers for hook exports (docs/abi.md, "Hook exports"; docs/hooks.md).
//
// A hook export is `export function pre_hook(ptr: usize, len: usize): u64 { return
// call(ptr, len, handler); }` like execute; these functions read its input documents
// ({"task", "inputs"}, {"task", "inputs", "result"}, {"root", …}) and build its results.
// They never fail: a missing or malformed member reads as null (an empty object for
// hookInputs). An errorResult(…) from a hook is a hook failure: the host logs it, records
// it in the task's hook_errors and changes nothing.
import { Value } from "./json";

/** The `task` member (the task's wire form) of a pre_hook/post_hook input, or null. */
export function hookTask(input: Value): Value | null {
  const t = input.get("task");
  return t != null && t.isObject ? t : null;
}

/** A string field of the input's task ("id", "name", "user_id", …), or null. */
export function taskString(input: Value, field: string): string | null {
  const t = hookTask(input);
  if (t == null) return null;
  const v = t.get(field);
  return v != null && v.isString ? v.s : null;
}

/**
 * The executor the task runs: params.executor_id, else schemas.method (what a hook
 * config's "executors" list is matched against), or null.
 */
export function taskMethod(input: Value): string | null {
  const t = hookTask(input);
  if (t == null) return null;
  const params = t.get("params");
  if (params != null) {
    const id = params.get("executor_id");
    if (id != null && id.isString) return id.s;
  }
  const schemas = t.get("schemas");
  if (schemas != null) {
    const m = schemas.get("method");
    if (m != null && m.isString) return m.s;
  }
  return null;
}

/**
 * The `inputs` member of a pre_hook/post_hook input (the same Value, not a copy), or a new
 * empty object when it is missing or not an object.
 */
export function hookInputs(input: Value): Value {
  const v = input.get("inputs");
  return v != null && v.isObject ? v : Value.object();
}

/** The pre_hook result that replaces the task's inputs: {"inputs": inputs}. */
export function replaceInputs(inputs: Value): Value {
  return Value.object().set("inputs", inputs);
}

/** The result that changes nothing: {} (any hook export). */
export function unchanged(): Value {
  return Value.object();
}
