// The conformance plugin, AssemblyScript edition. Specification: examples/conformance/README.md.
import { call, staticResult, errorResult, Kind, Value, host } from "apflow-plugin-kit/assembly";
export { alloc, dealloc } from "apflow-plugin-kit/assembly";

export function get_metadata(): u64 {
  return staticResult(`{"id":"conformance_assemblyscript","name":"Conformance (assemblyscript)","description":"ABI v1 conformance plugin","version":"1.0.0","tags":["conformance"],"capabilities":["http"]}`);
}

export function get_input_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"text":{"type":"string"},"numbers":{"type":"array","items":{"type":"integer"}},"fail":{"type":"boolean"},"url":{"type":"string"}},"required":["text"]}`);
}

export function get_output_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"length":{"type":"integer"},"upper":{"type":"string"},"sum":{"type":"integer"},"count":{"type":"integer"},"lang":{"type":"string"},"http_status":{"type":"integer"},"http_body":{"type":"string"},"http_error":{"type":"string"}},"required":["length","upper","sum","count","lang"]}`);
}

/** ASCII a-z to A-Z; every other character unchanged. */
function asciiUpper(s: string): string {
  const parts = new Array<string>();
  let run = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x61 && c <= 0x7a) {
      parts.push(s.substring(run, k));
      parts.push(String.fromCharCode(c - 32));
      run = k + 1;
    }
  }
  parts.push(s.substring(run));
  return parts.join("");
}

function run(input: Value): Value {
  const text = input.get("text");
  if (text == null || !text.isString) return errorResult("text must be a string", "E_INPUT");
  let sum: i64 = 0;
  let count: i64 = 0;
  const numbers = input.get("numbers");
  if (numbers != null) {
    const items = numbers.asArray();
    for (let k = 0; k < items.length; k++) {
      if (items[k].kind != Kind.Int) return errorResult("numbers must be integers", "E_INPUT");
      sum += items[k].i;
      count++;
    }
  }
  const length = String.UTF8.byteLength(text.s);
  host.info("conformance: processing " + length.toString() + " bytes");
  host.progress(0.5);
  const fail = input.get("fail");
  if (fail != null && fail.isBool && fail.b) return errorResult("requested failure", "E_REQUESTED");
  const out = Value.object()
    .set("length", Value.int(length))
    .set("upper", Value.str(asciiUpper(text.s)))
    .set("sum", Value.int(sum))
    .set("count", Value.int(count))
    .set("lang", Value.str("assemblyscript"));
  const url = input.get("url");
  if (url != null && url.isString && url.s.length > 0) {
    const r = host.httpGet(url.s);
    if (r.error.length > 0) {
      out.set("http_error", Value.str(r.error));
    } else {
      out.set("http_status", Value.int(r.status));
      out.set("http_body", Value.str(r.body));
    }
  }
  host.progress(1.0);
  return out;
}

export function execute(ptr: usize, len: usize): u64 {
  return call(ptr, len, run);
}
