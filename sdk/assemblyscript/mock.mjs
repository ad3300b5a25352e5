// The host of a plugin's tests under node: instantiates a built module with fake apflow
// host functions that a test sets up and reads back.
//
//   import { mockHost } from 'apflow-plugin-kit/mock.mjs';
//   const host = mockHost();
//   host.setConfig('api.token', 't');
//   host.respond('GET', 'https://api.example.com/x', 200, '{"ok":true}');
//   const plugin = await host.load(readFileSync('build/my_plugin.wasm'));
//   plugin.execute({ name: 'Ada' });   // the result, decoded ({error, code} for a failure)
//   host.logs;                         // [{ level: 'info', message: '…' }, …]
//
// http_request answers the response set for its method and URL, or the error
// "no mock response for METHOD URL" (host.onHTTP(fn) answers with fn(request) instead);
// config_get answers the values set, 0 (none) otherwise; sleep_ms records the duration
// and answers host.sleepStatus (0: slept); kv_* keep an in-memory space (host.kvRefuse
// set: every kv call is refused as not granted); llm_complete answers the documents
// queued with host.llm(answer) ({content, model, stop_reason, usage} or {error, code}),
// one per call in order, and {error, code: "llm_not_configured"} when none is left.
// host.requests, host.logs, host.progress, host.sleeps, host.kvCalls ({fn, req}) and
// host.llmRequests record what the plugin did, in order.

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

export function mockHost() {
  let inst = null;
  const mem = () => new Uint8Array(inst.exports.memory.buffer);
  const read = (p, n) => Buffer.from(mem().subarray(p, p + n)).toString();
  const give = (s) => {
    const b = Buffer.from(s);
    const p = inst.exports.alloc(b.length);
    mem().set(b, p);
    return [p, b.length];
  };
  const answer = (doc) => {
    const [p, n] = give(typeof doc === 'string' ? doc : JSON.stringify(doc));
    return (BigInt(p) << 32n) | BigInt(n);
  };
  const responses = new Map();
  const config = new Map();
  const kv = new Map();
  const llmAnswers = [];
  const host = {
    logs: [], progress: [], requests: [], sleeps: [], kvCalls: [], llmRequests: [], sleepStatus: 0, kvRefuse: false, handler: null,
    /** Queues the answer of the next llm_complete call: {content, model, stop_reason, usage} or {error, code}. */
    llm(doc) { llmAnswers.push(doc); },
    /** Answers requests with this method and URL with status, body and headers. */
    respond(method, url, status, body = '', headers = {}) {
      responses.set(`${method.toUpperCase()} ${url}`, { status, headers, body });
    },
    /** Answers every request with fn(request): {status, headers, body} or {error}. */
    onHTTP(fn) { host.handler = fn; },
    /** Makes config_get(key) answer value. */
    setConfig(key, value) { config.set(key, value); },
    imports: { apflow: {
      log(level, p, n) { host.logs.push({ level: LEVELS[level] ?? String(level), message: read(p, n) }); },
      progress(v) { host.progress.push(v); },
      http_request(p, n) {
        const req = JSON.parse(read(p, n));
        host.requests.push(req);
        if (host.handler) return answer(host.handler(req));
        const method = (req.method || 'GET').toUpperCase();
        const r = responses.get(`${method} ${req.url}`);
        return answer(r ?? { error: `no mock response for ${method} ${req.url}` });
      },
      config_get(p, n) {
        const key = read(p, n);
        return config.has(key) ? answer(config.get(key)) : 0n;
      },
      sleep_ms(ms) { host.sleeps.push(ms); return host.sleepStatus; },
      kv_get(p, n) { const r = kvRequest('kv_get', p, n); return kvAnswer(kv.has(r.key) ? { found: true, value: kv.get(r.key) } : { found: false }); },
      kv_set(p, n) {
        const r = kvRequest('kv_set', p, n);
        if (r.if_absent && kv.has(r.key)) return kvAnswer({ stored: false });
        kv.set(r.key, r.value);
        return kvAnswer({ stored: true });
      },
      llm_complete(p, n) {
        host.llmRequests.push(JSON.parse(read(p, n)));
        return answer(llmAnswers.shift() ?? { error: 'no mock llm response', code: 'llm_not_configured' });
      },
      kv_delete(p, n) { const r = kvRequest('kv_delete', p, n); return kvAnswer({ deleted: kv.delete(r.key) }); },
      kv_list(p, n) {
        const r = kvRequest('kv_list', p, n);
        const keys = [...kv.keys()].filter(k => k.startsWith(r.prefix ?? '')).sort().slice(0, r.limit ?? 100);
        return kvAnswer({ keys, more: false });
      },
    } },
    /** The kv space, to seed or inspect. */
    kv,
    /** Instantiates module bytes (or a compiled WebAssembly.Module) against this host. */
    async load(bytes) {
      const mod = bytes instanceof WebAssembly.Module ? bytes : await WebAssembly.compile(bytes);
      inst = await WebAssembly.instantiate(mod, host.imports);
      if (inst.exports._initialize) inst.exports._initialize();
      return {
        instance: inst,
        /** Calls an export with a raw input document; the raw result, or null for 0. */
        call(name, input) {
          const [p, n] = give(input);
          const r = inst.exports[name](p, n);
          if (r === 0n) return null;
          return read(Number(r >> 32n), Number(r & 0xffffffffn));
        },
        /** Calls execute with a value (encoded as JSON) and decodes its result. */
        execute(input) {
          const out = this.call('execute', JSON.stringify(input ?? {}));
          return out === null ? null : JSON.parse(out);
        },
      };
    },
  };
  const kvRequest = (fn, p, n) => { const req = JSON.parse(read(p, n)); host.kvCalls.push({ fn, req }); return req; };
  const kvAnswer = (doc) => answer(host.kvRefuse ? { error: 'capability kv not granted to plugin x', code: 'not_granted' } : doc);
  return host;
}
