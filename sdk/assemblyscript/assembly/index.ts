// apflow-plugin-kit: the AssemblyScript kit for apflow-wasm plugins (ABI v1).
//
// A plugin's entry file re-exports alloc/dealloc and defines its exports:
//
//   import { call, staticResult, Value, errorResult, host } from "apflow-plugin-kit/assembly";
//   export { alloc, dealloc } from "apflow-plugin-kit/assembly";
//   export function get_input_schema(): u64 { return staticResult(`{"type":"object"}`); }
//   export function execute(ptr: usize, len: usize): u64 { return call(ptr, len, run); }
//
// A hook module exports pre_hook, post_hook, … the same way (no execute or
// get_input_schema needed; say "kind":["hook"] in get_metadata); hook.ts has helpers
// for their inputs and results.
//
// and is compiled with
//   asc assembly/index.ts --outFile plugin.wasm --optimize \
//       --use abort=apflow-plugin-kit/assembly/host/abortHandler
export { Kind, Value, Parser, parse, quote, MAX_DEPTH } from "./json";
export { alloc, dealloc, call, staticResult, errorResult, keep, releaseLast, takeString, pack } from "./abi";
export { hookTask, taskString, taskMethod, hookInputs, replaceInputs, unchanged } from "./hook";
import * as host from "./host";
export { host };
