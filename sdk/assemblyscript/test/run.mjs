// Builds test/fixture.ts and checks the kit's JSON and ABI behaviour through node's
// WebAssembly. Run with `npm test` (after `npm ci`).
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import assert from 'node:assert/strict';
import { mockHost } from '../mock.mjs';

mkdirSync('build', { recursive: true });
execFileSync('npx', ['asc', 'test/fixture.ts', '--outFile', 'build/fixture.wasm', '--optimize',
  '--use', 'abort=assembly/host/abortHandler'], { stdio: 'inherit' });

const mod = await WebAssembly.compile(readFileSync('build/fixture.wasm'));
const imports = WebAssembly.Module.imports(mod).map(i => `${i.module}.${i.name}`);
assert.ok(imports.every(i => i.startsWith('apflow.')), `only apflow imports, got ${imports}`);

const host = mockHost();
// http_request answers 503 `failures` times, then 200.
const fake = { failures: 0 };
host.onHTTP(() => fake.failures-- > 0 ? { status: 503, headers: {}, body: '' } : { status: 200, headers: {}, body: 'ok' });
host.setConfig('k', 'v\u00e9');
const plugin = await host.load(mod);
const inst = plugin.instance;
const callExport = (name, input) => plugin.call(name, input);

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
  fake.failures = failures;
  Object.assign(host, { sleeps: [], sleepStatus: status });
  assert.equal(callExport('retry_export', '{"attempts":3,"wait_ms":100}'), want, `retry, sleep status ${status}`);
  assert.deepEqual(host.sleeps, sleeps, `sleeps, sleep status ${status}`);
}

// Memory does not grow without bound across many calls: results and inputs are freed.
const before = inst.exports.memory.buffer.byteLength;
for (let i = 0; i < 5000; i++) callExport('execute', `{"i":${i},"s":"${'x'.repeat(200)}"}`);
assert.equal(inst.exports.memory.buffer.byteLength, before, 'memory grew across calls');

// kv_*: the kit's calls through a fake space, and a refusal with its kv_ code.
assert.equal(callExport('kv_export', '{"key":"k"}'),
  '{"before":false,"claimed":false,"value":{"n":1},"keys":["k"],"deleted":true}', 'kv sequence');
// kv_set: the value with a TTL, then the claim (if_absent) without one.
assert.deepEqual(host.kvCalls.filter(c => c.fn === 'kv_set').map(c => c.req.ttl_ms ?? 0), [60000, 0], 'kv ttl');
host.kvRefuse = true;
assert.equal(callExport('kv_export', '{"key":"k"}'),
  '{"error":"capability kv not granted to plugin x","code":"kv_not_granted"}', 'kv refused');

// llm_complete: the queued answers in order, the host's code on an error, and the
// requests recorded.
host.llm({ content: 'hello', model: 'fake', stop_reason: 'end_turn', usage: { input_tokens: 4, output_tokens: 1 } });
host.llm({ error: 'spent', code: 'llm_budget_exceeded' });
assert.equal(callExport('llm_export', '{"prompt":"hi"}'), '{"content":"hello","model":"fake","stop":"end_turn","in":4,"out":1}', 'llm answer');
assert.equal(callExport('llm_export', '{"prompt":"again"}'), '{"error":"spent","code":"llm_budget_exceeded"}', 'llm budget');
assert.equal(callExport('llm_export', '{"prompt":"more"}'), '{"error":"no mock llm response","code":"llm_not_configured"}', 'llm unset');
assert.deepEqual(host.llmRequests, ['hi', 'again', 'more'].map(c => ({ messages: [{ role: 'user', content: c }], max_tokens: 20 })), 'llm requests');

// mockHost: responses set per method and URL, an error naming the request otherwise.
const other = mockHost();
other.respond('GET', 'http://api.test/x', 200, 'ok');
const p2 = await other.load(mod);
assert.equal(p2.call('retry_export', '{"attempts":1,"wait_ms":1}'), '{"attempts":1}', 'mock response');
assert.deepEqual(other.requests.map(r => r.url), ['http://api.test/x'], 'mock requests');
const unset = mockHost();
const p3 = await unset.load(mod);
assert.deepEqual(p3.execute({ a: 1 }), { a: 1 }, 'mock execute');
assert.equal(p3.call('cfg', '{"key":"k"}'), 'null', 'mock config unset');
assert.equal(p3.call('retry_export', '{"attempts":1,"wait_ms":1}'), '{"error":"gave up after 1 attempts","code":"unavailable"}', 'mock unmatched');

console.log(`ok: mock host, kv, llm, ${roundTrips.length} round trips, ${hookCases.length} hook cases, ${invalid.length} rejections, errors, config, ${retryCases.length} sleep cases, memory reuse`);
