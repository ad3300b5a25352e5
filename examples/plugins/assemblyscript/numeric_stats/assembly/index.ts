// numeric_stats: count, sum, min, max, mean, median and (population) standard deviation
// of an array of numbers.
//
// Input  {"values": [1, 2.5, 3], "sample": false}
// Output {"count": 3, "sum": 6.5, "min": 1, "max": 3, "mean": …, "median": 2.5, "stddev": …}
// "sample": true uses the sample standard deviation (n - 1). An empty array is an error.
import { call, staticResult, errorResult, Value, host } from "apflow-plugin-kit/assembly";
export { alloc, dealloc } from "apflow-plugin-kit/assembly";

export function get_metadata(): u64 {
  return staticResult(`{"id":"numeric_stats","name":"Numeric statistics","description":"Count, sum, min, max, mean, median and standard deviation of numbers","version":"1.0.0","tags":["math","example"]}`);
}

export function get_input_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"values":{"type":"array","items":{"type":"number"},"minItems":1},"sample":{"type":"boolean","default":false}},"required":["values"]}`);
}

export function get_output_schema(): u64 {
  return staticResult(`{"type":"object","properties":{"count":{"type":"integer"},"sum":{"type":"number"},"min":{"type":"number"},"max":{"type":"number"},"mean":{"type":"number"},"median":{"type":"number"},"stddev":{"type":"number"}},"required":["count","sum","min","max","mean","median","stddev"]}`);
}

function run(input: Value): Value {
  const values = input.get("values");
  if (values == null || !values.isArray) return errorResult("values must be an array of numbers", "invalid_inputs");
  const items = values.asArray();
  if (items.length == 0) return errorResult("values must not be empty", "invalid_inputs");
  const xs = new Float64Array(items.length);
  for (let k = 0; k < items.length; k++) {
    if (!items[k].isNumber) return errorResult("values[" + k.toString() + "] is not a number", "invalid_inputs");
    xs[k] = items[k].asFloat();
  }
  const sampleV = input.get("sample");
  const sample = sampleV != null && sampleV.isBool && sampleV.b;
  if (sample && xs.length < 2) return errorResult("a sample standard deviation needs at least 2 values", "invalid_inputs");
  host.info("numeric_stats: " + xs.length.toString() + " values");

  let sum = 0.0, min = xs[0], max = xs[0];
  for (let k = 0; k < xs.length; k++) {
    sum += xs[k];
    if (xs[k] < min) min = xs[k];
    if (xs[k] > max) max = xs[k];
  }
  const mean = sum / <f64>xs.length;
  let sq = 0.0;
  for (let k = 0; k < xs.length; k++) sq += (xs[k] - mean) * (xs[k] - mean);
  const stddev = Math.sqrt(sq / <f64>(sample ? xs.length - 1 : xs.length));
  host.progress(0.5);

  const sorted = xs.slice();
  sorted.sort();
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  host.progress(1.0);

  return Value.object()
    .set("count", Value.int(xs.length))
    .set("sum", Value.float(sum))
    .set("min", Value.float(min))
    .set("max", Value.float(max))
    .set("mean", Value.float(mean))
    .set("median", Value.float(median))
    .set("stddev", Value.float(stddev));
}

export function execute(ptr: usize, len: usize): u64 {
  return call(ptr, len, run);
}
