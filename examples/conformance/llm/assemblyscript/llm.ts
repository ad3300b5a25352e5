// The llm conformance plugin, AssemblyScript edition (examples/conformance/llm_test.go).
import { call, staticResult, errorResult, Value, host } from "../../../../sdk/assemblyscript/assembly/index";
export { alloc, dealloc } from "../../../../sdk/assemblyscript/assembly/index";

export function get_metadata(): u64 {
  return staticResult(`{"id":"llm_assemblyscript","name":"LLM (assemblyscript)","version":"1.0.0","capabilities":["llm"]}`);
}

export function get_input_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"prompt":{"type":"string"}},"required":["prompt"]}`);
}

// Asks the completion of examples/conformance/README.md ("llm"); a refused call ends the
// task with the host's message and code.
function run(input: Value): Value {
  const p = input.get("prompt");
  if (p == null || !p.isString) return errorResult("prompt is required", "invalid_inputs");
  const msgs = Value.array();
  msgs.push(Value.object().set("role", Value.str("system")).set("content", Value.str("conformance")));
  msgs.push(Value.object().set("role", Value.str("user")).set("content", Value.str(p.s)));
  const req = Value.object().set("messages", msgs).set("max_tokens", Value.int(16))
    .set("temperature", Value.float(0.5)).set("json", Value.bool(true));
  const r = host.llmComplete(req);
  if (r.error.length > 0) return host.llmError(r);
  return Value.object().set("content", Value.str(r.content)).set("model", Value.str(r.model))
    .set("stop_reason", Value.str(r.stopReason)).set("input_tokens", Value.int(r.inputTokens))
    .set("output_tokens", Value.int(r.outputTokens));
}

export function execute(ptr: usize, len: usize): u64 { return call(ptr, len, run); }
