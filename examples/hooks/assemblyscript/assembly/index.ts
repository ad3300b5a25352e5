// hook_assemblyscript — an example hook written with the AssemblyScript kit (docs/hooks.md).
//
// * pre_hook returns the task's inputs plus "_hooked_by": "assemblyscript", every other
//   member unchanged. When an earlier hook of the chain already set _hooked_by, it appends
//   ("rust,assemblyscript"), so the chain's order shows in the result. When the inputs
//   contain "fail_hook": true (or "fail_hook": "assemblyscript") it fails instead: a hook
//   failure the host records in hook_errors; nothing changes.
// * post_hook logs "post <task name>" at info level and returns {}.
//
// Hook only: no execute, metadata "kind":["hook"]. No grants needed.
import { call, staticResult, errorResult, Value, host, hookInputs, replaceInputs, unchanged, taskString } from "apflow-plugin-kit/assembly";
export { alloc, dealloc } from "apflow-plugin-kit/assembly";

const LANG = "assemblyscript";

export function get_metadata(): u64 {
  return staticResult(`{"id":"hook_assemblyscript","name":"Hook (AssemblyScript)","description":"Stamps _hooked_by on the inputs, logs completed tasks","version":"1.0.0","kind":["hook"]}`);
}

function pre(input: Value): Value {
  const inputs = hookInputs(input);
  const fail = inputs.get("fail_hook");
  if (fail != null && ((fail.isBool && fail.b) || (fail.isString && fail.s == LANG))) {
    const id = taskString(input, "id");
    return errorResult(LANG + " hook: fail_hook is set on task " + (id != null ? id : "?"));
  }
  const prev = inputs.get("_hooked_by");
  const by = prev != null && prev.isString ? prev.s + "," + LANG : LANG;
  return replaceInputs(inputs.set("_hooked_by", Value.str(by)));
}

function post(input: Value): Value {
  const name = taskString(input, "name");
  host.info("post " + (name != null ? name : ""));
  return unchanged();
}

export function pre_hook(ptr: usize, len: usize): u64 { return call(ptr, len, pre); }
export function post_hook(ptr: usize, len: usize): u64 { return call(ptr, len, post); }
