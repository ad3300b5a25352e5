// The sleep conformance plugin, AssemblyScript edition (examples/conformance/sleep_test.go).
import { call, staticResult, errorResult, Value, host } from "../../../../sdk/assemblyscript/assembly/index";
export { alloc, dealloc } from "../../../../sdk/assemblyscript/assembly/index";

export function get_metadata(): u64 {
  return staticResult(`{"id":"sleep_assemblyscript","name":"Sleep (assemblyscript)","version":"1.0.0","capabilities":["clock"]}`);
}

export function get_input_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"ms":{"type":"integer"}},"required":["ms"]}`);
}

// Sleeps input.ms milliseconds; {"slept":true}, or the sleep's error and code.
function run(input: Value): Value {
  const ms = input.get("ms");
  if (ms == null) return errorResult("ms is required", "invalid_inputs");
  const s = host.sleepMs(ms.asInt());
  if (s != host.SleepStatus.Ok) return host.sleepError(s);
  return Value.object().set("slept", Value.bool(true));
}

export function execute(ptr: usize, len: usize): u64 { return call(ptr, len, run); }
