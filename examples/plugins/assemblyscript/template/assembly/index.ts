// A starting point for an AssemblyScript executor: copy this folder, rename the id.
import { call, staticResult, errorResult, Value, host } from "apflow-plugin-kit/assembly";
export { alloc, dealloc } from "apflow-plugin-kit/assembly";

export function get_metadata(): u64 {
  return staticResult(`{"id":"template_assemblyscript","name":"Template (AssemblyScript)","description":"Greets someone","version":"0.1.0","tags":["template"]}`);
}

export function get_input_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"name":{"type":"string","minLength":1}},"required":["name"]}`);
}

export function get_output_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"greeting":{"type":"string"}},"required":["greeting"]}`);
}

function run(input: Value): Value {
  const name = input.get("name");
  if (name == null || !name.isString) return errorResult("name must be a string", "invalid_inputs");
  host.info("greeting " + name.s);
  return Value.object().set("greeting", Value.str("Hello, " + name.s + "!"));
}

export function execute(ptr: usize, len: usize): u64 {
  return call(ptr, len, run);
}
