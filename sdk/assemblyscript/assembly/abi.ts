// Memory and result ownership of ABI v1 (docs/abi.md).
//
// * alloc/dealloc use the unmanaged heap (heap.alloc/heap.free): the garbage collector
//   never sees, moves or frees these blocks, so a buffer stays valid until dealloc.
// * The result of a guest call lives in an unmanaged block until the next call.
// * Input buffers written by the host are freed by `call` once decoded.
import { Parser, Value } from "./json";

let lastResult: usize = 0;

/** Packs a pointer and a length into an ABI v1 result. */
export function pack(ptr: usize, len: usize): u64 {
  return (<u64>ptr << 32) | <u64>len;
}

/** ABI `alloc`: `size` writable bytes from the unmanaged heap (never 0). */
export function alloc(size: usize): usize {
  return heap.alloc(size > 0 ? size : 1);
}

/** ABI `dealloc`: frees a block from alloc. */
export function dealloc(ptr: usize, size: usize): void {
  if (ptr != 0) heap.free(ptr);
}

/** Frees the previous result; called at the start of every result-returning export. */
export function releaseLast(): void {
  if (lastResult != 0) {
    heap.free(lastResult);
    lastResult = 0;
  }
}

/** Copies `text` as UTF-8 into an unmanaged block kept until the next call; packed. */
export function keep(text: string): u64 {
  releaseLast();
  const len = <usize>String.UTF8.byteLength(text);
  if (len == 0) return 0;
  const ptr = heap.alloc(len);
  String.UTF8.encodeUnsafe(changetype<usize>(text), text.length, ptr);
  lastResult = ptr;
  return pack(ptr, len);
}

/** Decodes and frees a buffer the host handed over (packed); null for 0. */
export function takeString(packed: u64): string | null {
  if (packed == 0) return null;
  const ptr = <usize>(packed >> 32);
  const len = <usize>(packed & 0xffffffff);
  const s = String.UTF8.decodeUnsafe(ptr, len);
  if (ptr != 0) heap.free(ptr);
  return s;
}

/** {"error": message} plus "code" when non-empty: a failed task. */
export function errorResult(message: string, code: string = ""): Value {
  const v = Value.object().set("error", Value.str(message));
  if (code.length > 0) v.set("code", Value.str(code));
  return v;
}

/**
 * Runs one (ptr, len) -> i64 export: frees the previous result, decodes and frees the
 * input, parses it, calls `handler` and keeps its serialized answer until the next call.
 * Input that is not JSON answers {"error":"invalid input: …","code":"E_INPUT"}.
 */
export function call(ptr: usize, len: usize, handler: (input: Value) => Value): u64 {
  releaseLast();
  const text = len > 0 ? String.UTF8.decodeUnsafe(ptr, len) : "";
  if (ptr != 0) heap.free(ptr);
  const p = new Parser();
  const input = p.parse(text);
  if (input == null) return keep(errorResult("invalid input: " + p.error, "E_INPUT").stringify());
  return keep(handler(input).stringify());
}

/** Packs a constant document (schema, metadata) for a get_* export. */
export function staticResult(doc: string): u64 {
  return keep(doc);
}
