// The spin conformance plugin, AssemblyScript edition (examples/conformance/spin_test.go).
import { call, staticResult, errorResult, Value } from "../../../../sdk/assemblyscript/assembly/index";
export { alloc, dealloc } from "../../../../sdk/assemblyscript/assembly/index";

export function get_metadata(): u64 {
  return staticResult(`{"id":"spin_assemblyscript","name":"Spin (assemblyscript)","version":"1.0.0"}`);
}

export function get_input_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"mode":{"type":"string"}},"required":["mode"]}`);
}

let sink: i64 = 0;

// A call tree of 2^n calls, never more than n deep.
// @ts-ignore: decorator
@inline(never)
function tree(n: i32): void {
  sink++;
  if (n == 0) return;
  tree(n - 1);
  tree(n - 1);
}

// Never returns: "loop" spins in a loop, "tree" calls a tree of 2^60 calls.
function run(input: Value): Value {
  const mode = input.get("mode");
  if (mode == null) return errorResult("mode is required", "invalid_inputs");
  if (mode.isString && mode.s == "tree") tree(60);
  while (true) sink++;
  return Value.null();
}

export function execute(ptr: usize, len: usize): u64 { return call(ptr, len, run); }
