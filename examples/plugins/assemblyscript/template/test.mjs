// Unit test of the built module under node, with the kit's mock host: `npm run asbuild &&
// npm test`. The cases of cases.json run it through the real host (apflow test).
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { mockHost } from 'apflow-plugin-kit/mock.mjs';

const host = mockHost();
const plugin = await host.load(readFileSync(new URL('build/template_assemblyscript.wasm', import.meta.url)));
assert.deepEqual(plugin.execute({ name: 'Ada' }), { greeting: 'Hello, Ada!' });
assert.deepEqual(host.logs, [{ level: 'info', message: 'greeting Ada' }]);
assert.equal(plugin.execute({}).code, 'invalid_inputs');
console.log('ok');
