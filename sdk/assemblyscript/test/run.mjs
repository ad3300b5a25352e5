// Builds test/fixture.ts and checks the kit's JSON and ABI behaviour through node's
// WebAssembly. Run with `npm test` (after `npm ci`).
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';

mkdirSync('build', { recursive: true });
execFileSync('npx', ['asc', 'test/fixture.ts', '--outFile', 'build/fixture.wasm', '--optimize',
  '--use', 'abort=assembly/host/abortHandler'], { stdio: 'inherit' });

const mod = await WebAssembly.compile(readFileSync('build/fixture.wasm'));
const imports = WebAssembly.Module.imports(mod).map(i => `${i.module}.${i.name}`);
assert.ok(imports.every(i => i.startsWith('apflow.')), `only apflow imports, got ${imports}`);
let inst;
const mem = () => new Uint8Array(inst.exports.memory.buffer);
const give = (s) => { const b = Buffer.from(s); const p = inst.exports.alloc(b.length); mem().set(b, p); return [p, b.length]; };
// The fake host's http_request answers 503 `failures` times, then 200; its sleep_ms
// records each duration and answers `sleepStatus` (0 = slept).
const fake = { failures: 0, sleeps: [], sleepStatus: 0, kv: new Map(), ttls: [], kvRefuse: false };
const req = (p, l) => JSON.parse(Buffer.from(mem().subarray(p, p + l)).toString());
const kvAnswer = (doc) => answer(JSON.stringify(fake.kvRefuse ? { error: 'capability kv not granted to plugin x', code: 'not_granted' } : doc));
const answer = (s) => { const [q, n] = give(s); return (BigInt(q) << 32n) | BigInt(n); };
inst = await WebAssembly.instantiate(mod, { apflow: {
  log() {}, progress() {},
  http_request() {
    return answer(fake.failures-- > 0 ? '{"status":503,"headers":{},"body":""}' : '{"status":200,"headers":{},"body":"ok"}');
  },
  sleep_ms(ms) { fake.sleeps.push(ms); return fake.sleepStatus; },
  // kv_*: an in-memory space, or a refusal when fake.kvRefuse is set.
  kv_get(p, l) { const r = req(p, l); return kvAnswer(fake.kv.has(r.key) ? { found: true, value: fake.kv.get(r.key) } : { found: false }); },
  kv_set(p, l) {
    const r = req(p, l);
    if (r.if_absent && fake.kv.has(r.key)) return kvAnswer({ stored: false });
    fake.kv.set(r.key, r.value); fake.ttls.push(r.ttl_ms ?? 0); return kvAnswer({ stored: true });
  },
  kv_delete(p, l) { const r = req(p, l); return kvAnswer({ deleted: fake.kv.delete(r.key) }); },
  kv_list(p, l) {
    const r = req(p, l);
    const keys = [...fake.kv.keys()].filter(k => k.startsWith(r.prefix ?? '')).sort().slice(0, r.limit ?? 100);
    return kvAnswer({ keys, more: false });
  },
  config_get(p, l) {
    const key = Buffer.from(mem().subarray(p, p + l)).toString();
    if (key !== 'k') return 0n;
    const [q, n] = give('v\u00e9');
    return (BigInt(q) << 32n) | BigInt(n);
  },
} });
const callExport = (name, input) => {
  const [p, n] = give(input);
  const r = inst.exports[name](p, n);
  if (r === 0n) return null;
  const q = Number(r >> 32n), len = Number(r & 0xffffffffn);
  return Buffer.from(mem().subarray(q, q + len)).toString();
};

const roundTrips = [
  ['null', 'null'],
  [' true ', 'true'],
  ['[1,-2,3.5,1e2,"x"]', '[1,-2,3.5,100.0,"x"]'],
  ['{"a":{"b":[]},"c":{}}', '{"a":{"b":[]},"c":{}}'],
  ['"\\u00e9\\ud83d\\ude00\\n\\"\\\\\\/"', '"é😀\\n\\"\\\\/"'],
  ['"\\u0001"', '"\\u0001"'],
  ['9223372036854775807', '9223372036854775807'],
  ['-9223372036854775808', '-9223372036854775808'],
  ['{"a":1,"a":2}', '{"a":1,"a":2}'],
];
for (const [input, want] of roundTrips) {
  assert.equal(callExport('execute', input), want, `round trip of ${input}`);
}

const invalid = ['', 'nul', '[1,]', '{"a":1,}', '01', '-', '1.', '1e', '"abc', '"\\x"', '"\\ud800"',
  '"\\udc00"', '"a\nb"', '{a:1}', '[1 2]', '1 2', '"\\u12"', '['.repeat(200) + ']'.repeat(200)];
for (const input of invalid) {
  const out = JSON.parse(callExport('execute', input));
  assert.equal(out.code, 'E_INPUT', `rejects ${JSON.stringify(input)}`);
  assert.match(out.error, /^invalid input: /);
}

const hookCases = [
  ['{"task":{"name":"n","schemas":{"method":"echo"}},"inputs":{"a":{"b":[1]},"big":9223372036854775807}}',
    '{"inputs":{"a":{"b":[1]},"big":9223372036854775807,"_by":"n/echo"}}'],
  ['{"task":{"name":"n","params":{"executor_id":"x"},"schemas":{"method":"echo"}},"inputs":{"_by":"old"}}',
    '{"inputs":{"_by":"n/x"}}'],
  ['{"task":{"name":"n"},"inputs":[1]}', '{"inputs":{"_by":"n/-"}}'],
  ['{"task":"t","inputs":{}}', '{}'],
];
for (const [input, want] of hookCases) {
  assert.equal(callExport('pre_hook', input), want, `pre_hook of ${input}`);
}

assert.equal(callExport('fail', '{}'), '{"error":"bad \\"thing\\"","code":"E_X"}');
assert.equal(callExport('cfg', '{"key":"k"}'), '"vé"');
assert.equal(callExport('cfg', '{"key":"nope"}'), 'null');

// sleep_ms: the backoff loop sleeps 100 then 200 ms between three attempts; a sleep
// that ends early (cancel, deadline) or is refused ends it with the sleep's error.
const retryCases = [
  [2, 0, '{"attempts":3}', [100n, 200n]],
  [5, 0, '{"error":"gave up after 3 attempts","code":"unavailable"}', [100n, 200n]],
  [5, 1, '{"error":"sleep ended: the task was cancelled","code":"cancelled"}', [100n]],
  [5, 2, '{"error":"sleep ended: the task\'s deadline passed","code":"deadline_exceeded"}', [100n]],
  [5, 3, '{"error":"sleep refused: negative or longer than the longest task timeout","code":"sleep_refused"}', [100n]],
  [5, 4, '{"error":"sleep refused: capability clock not granted to this plugin","code":"sleep_refused"}', [100n]],
];
for (const [failures, status, want, sleeps] of retryCases) {
  Object.assign(fake, { failures, sleeps: [], sleepStatus: status });
  assert.equal(callExport('retry_export', '{"attempts":3,"wait_ms":100}'), want, `retry, sleep status ${status}`);
  assert.deepEqual(fake.sleeps, sleeps, `sleeps, sleep status ${status}`);
}

// Memory does not grow without bound across many calls: results and inputs are freed.
const before = inst.exports.memory.buffer.byteLength;
for (let i = 0; i < 5000; i++) callExport('execute', `{"i":${i},"s":"${'x'.repeat(200)}"}`);
assert.equal(inst.exports.memory.buffer.byteLength, before, 'memory grew across calls');

// kv_*: the kit's calls through a fake space, and a refusal with its kv_ code.
assert.equal(callExport('kv_export', '{"key":"k"}'),
  '{"before":false,"claimed":false,"value":{"n":1},"keys":["k"],"deleted":true}', 'kv sequence');
assert.deepEqual(fake.ttls, [60000], 'kv ttl');
fake.kvRefuse = true;
assert.equal(callExport('kv_export', '{"key":"k"}'),
  '{"error":"capability kv not granted to plugin x","code":"kv_not_granted"}', 'kv refused');

console.log(`ok: kv, ${roundTrips.length} round trips, ${hookCases.length} hook cases, ${invalid.length} rejections, errors, config, ${retryCases.length} sleep cases, memory reuse`);
