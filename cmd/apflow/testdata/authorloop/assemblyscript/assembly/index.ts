import { call, staticResult, errorResult, Value, host } from "apflow-plugin-kit/assembly";
export { alloc, dealloc } from "apflow-plugin-kit/assembly";

export function get_metadata(): u64 {
  return staticResult(`{"id":"word_count","name":"Word count","version":"0.1.0"}`);
}

export function get_input_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"text":{"type":"string"},"url":{"type":"string"},"explode":{"type":"boolean"}}}`);
}

// The bug the trap shows: an index past the end of an array.
function explode(text: string): void {
  const counts = new Array<i32>(0);
  counts[text.length] += 1;
}

function countWords(text: string): i64 {
  let n: i64 = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c == 32 || c == 9 || c == 10 || c == 13) inWord = false;
    else if (!inWord) { inWord = true; n++; }
  }
  return n;
}

function run(input: Value): Value {
  const explodeFlag = input.get("explode");
  const textValue = input.get("text");
  let text = textValue != null && textValue.isString ? textValue.s : "";
  if (explodeFlag != null && explodeFlag.b) explode(text);
  const url = input.get("url");
  if (url != null && url.isString) {
    const resp = host.httpGet(url.s);
    if (resp.error.length > 0) return errorResult(resp.error, "http_refused");
    text = resp.body;
  }
  const n = countWords(text);
  host.info("counted words words=" + n.toString());
  return Value.object().set("words", Value.int(n));
}

export function execute(ptr: usize, len: usize): u64 {
  return call(ptr, len, run);
}
