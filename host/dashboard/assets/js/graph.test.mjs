// Tests of graph.js: node --test host/dashboard/assets/js/
// The render functions run against a minimal hand-rolled document (fakeDocument below);
// the page's browser tests exercise them in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  STATUSES, criticalPath, flatten, formatDuration, layout, renderGantt, renderGraph, tickOffsets,
} from './graph.js';

// ---------------------------------------------------------------------------------------
// helpers

/** A task with defaults; deps are ids or {id, required}. */
function task(id, { parent = null, deps = [], ...rest } = {}) {
  return { id, name: id, parent_id: parent, status: 'pending', priority: 2, progress: 0, dependencies: deps, schemas: { method: 'echo' }, ...rest };
}

function nodeById(lay) {
  return new Map(lay.nodes.map((n) => [n.id, n]));
}

/** Column index of every node, from x. */
function columns(lay) {
  const xs = [...new Set(lay.nodes.map((n) => n.x))].sort((a, b) => a - b);
  return new Map(lay.nodes.map((n) => [n.id, xs.indexOf(n.x)]));
}

/** Ids of the nodes of one column, top to bottom. */
function columnIds(lay, col) {
  const cols = columns(lay);
  return lay.nodes.filter((n) => cols.get(n.id) === col).sort((a, b) => a.y - b.y).map((n) => n.id);
}

function assertNoOverlap(lay) {
  const sorted = [...lay.nodes].sort((a, b) => a.x - b.x || a.y - b.y);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    assert.ok(!overlap, `${a.id} overlaps ${b.id}`);
  }
  for (const n of lay.nodes) {
    assert.ok(n.x >= 0 && n.y >= 0 && n.x + n.w <= lay.width && n.y + n.h <= lay.height, `${n.id} outside the layout`);
  }
}

/** A root with `count` children, each child depending on nothing, the root on all. */
function wideTree(count, status = (i) => (i % 4 === 0 ? 'failed' : 'completed')) {
  const kids = Array.from({ length: count }, (_, i) => task(`c${i}`, { parent: 'root', status: status(i) }));
  return [task('root', { deps: kids.map((k) => k.id), status: 'in_progress' }), ...kids];
}

// ---------------------------------------------------------------------------------------
// flatten

test('flatten returns the tasks of a nested tree in pre-order', () => {
  const tree = {
    task: { id: 'r' },
    children: [
      { task: { id: 'a' }, children: [{ task: { id: 'a1' }, children: [] }] },
      { task: { id: 'b' } },
    ],
  };
  assert.deepEqual(flatten(tree).map((t) => t.id), ['r', 'a', 'a1', 'b']);
  assert.equal(flatten(tree)[0], tree.task, 'tasks are returned as given');
});

test('flatten handles a chain deeper than the call stack', () => {
  let node = { task: { id: 't0' }, children: [] };
  for (let i = 1; i < 20000; i++) node = { task: { id: `t${i}` }, children: [node] };
  assert.equal(flatten(node).length, 20000);
});

test('flatten names a malformed node', () => {
  assert.throws(() => flatten(null), /tree is not a \{task, children\} node/);
  assert.throws(() => flatten({ task: { id: 'r' }, children: [{ nope: 1 }] }), /children\[0\] of task r/);
  assert.throws(() => flatten({ task: { id: 'r' }, children: 'x' }), /task r: field children is not an array/);
});

// ---------------------------------------------------------------------------------------
// layout

test('layout places a task one column after its deepest dependency', () => {
  const tasks = [
    task('root', { deps: ['merge'] }),
    task('fetch', { parent: 'root' }),
    task('parse', { parent: 'root', deps: ['fetch'] }),
    task('stats', { parent: 'root', deps: [{ id: 'fetch' }] }),
    task('merge', { parent: 'root', deps: ['parse', { id: 'stats', required: false }, 'fetch'] }),
  ];
  const lay = layout(tasks);
  const cols = columns(lay);
  assert.deepEqual(Object.fromEntries(cols), { fetch: 0, parse: 1, stats: 1, merge: 2, root: 3 });
  assertNoOverlap(lay);
  assert.ok(lay.nodes.every((n) => !n.group && n.task === tasks.find((t) => t.id === n.id)));
  assert.deepEqual(lay.nodes.filter((n) => n.children > 0).map((n) => `${n.id}:${n.children}:${n.collapsed}`), ['root:4:false']);
});

test('layout keeps required and optional edges apart and defaults to required', () => {
  const tasks = [
    task('a'),
    task('b', { parent: 'a', deps: ['a'] }),
    task('c', { parent: 'a', deps: [{ id: 'a', required: false }, { id: 'b', required: null }] }),
  ];
  const edges = layout(tasks).edges.map((e) => `${e.from}>${e.to}:${e.required}`).sort();
  assert.deepEqual(edges, ['a>b:true', 'a>c:false', 'b>c:true']);
});

test('layout ignores a dependency on a task outside the given tasks', () => {
  const tasks = [task('a', { deps: ['elsewhere'] }), task('b', { parent: 'a', deps: ['a', { id: 'gone' }] })];
  const lay = layout(tasks);
  assert.deepEqual(Object.fromEntries(columns(lay)), { a: 0, b: 1 });
  assert.deepEqual(lay.edges, [{ from: 'a', to: 'b', required: true }]);
});

test('layout orders a column by parent, then priority, then name', () => {
  const tasks = [
    task('root'),
    task('p2', { parent: 'root', priority: 1 }),
    task('p1', { parent: 'root', priority: 0 }),
    task('x10', { parent: 'p1', deps: ['p1'] }),
    task('x9', { parent: 'p1', deps: ['p1'] }),
    task('urgent', { parent: 'p1', deps: ['p1'], priority: 0 }),
    task('a', { parent: 'p2', deps: ['p1'] }),
  ];
  const lay = layout(tasks);
  assert.deepEqual(columnIds(lay, 0), ['root', 'p1', 'p2']);
  assert.deepEqual(columnIds(lay, 1), ['urgent', 'x9', 'x10', 'a'], 'p1 before p2 (pre-order), priority, natural name');
  assertNoOverlap(lay);
});

test('layout nodes do not overlap in a column of many tasks', () => {
  const lay = layout(wideTree(200), { autoCollapse: Infinity });
  assert.equal(columnIds(lay, 0).length, 200);
  assertNoOverlap(lay);
});

test('layout collapses a root with 10000 children into one group with counts', () => {
  const tasks = wideTree(10000);
  const lay = layout(tasks);
  assert.equal(lay.nodes.length, 2);
  const group = lay.nodes.find((n) => n.group);
  assert.equal(lay.nodes.find((n) => n.id === 'root').collapsed, true);
  assert.equal(group.id, 'group:root');
  assert.equal(group.parentId, 'root');
  assert.equal(group.total, 10000);
  assert.deepEqual(group.counts, { pending: 0, in_progress: 0, completed: 7500, failed: 2500, cancelled: 0 });
  assert.equal(group.members.length, 10000);
  assert.deepEqual(lay.edges, [{ from: 'group:root', to: 'root', required: true }], 'redirected and deduplicated');
  assert.deepEqual(Object.fromEntries(columns(lay)), { 'group:root': 0, root: 1 });
  assertNoOverlap(lay);
});

test('layout groups: threshold, expanded, collapsed and nesting', () => {
  const kids = (parent, n) => Array.from({ length: n }, (_, i) => task(`${parent}.${i}`, { parent }));
  const tasks = [task('root'), task('p', { parent: 'root' }), ...kids('p', 3), task('q', { parent: 'root' }), ...kids('q', 2)];
  const groups = (opts) => layout(tasks, opts).nodes.filter((n) => n.group).map((n) => `${n.id}:${n.total}`).sort();
  assert.deepEqual(groups({ autoCollapse: 3 }), [], 'exactly autoCollapse children stay expanded');
  assert.deepEqual(groups({ autoCollapse: 2 }), ['group:p:3']);
  assert.deepEqual(groups({ autoCollapse: 2, expanded: new Set(['p']) }), []);
  assert.deepEqual(groups({ collapsed: new Set(['q']) }), ['group:q:2']);
  assert.deepEqual(groups({ collapsed: ['q', 'root'] }), ['group:root:7'], 'the outermost collapsed parent wins');
  assert.deepEqual(groups({ collapsed: new Set(['p.0']) }), [], 'a task without children makes no group');
});

test('layout redirects edges into groups and merges duplicates, required winning', () => {
  const tasks = [
    task('root', { deps: ['sink'] }),
    task('src', { parent: 'root' }),
    task('g', { parent: 'root' }),
    task('g1', { parent: 'g', deps: [{ id: 'src', required: false }] }),
    task('g2', { parent: 'g', deps: ['src', 'g1'] }),
    task('g3', { parent: 'g', deps: [{ id: 'src', required: false }] }),
    task('sink', { parent: 'root', deps: ['g2', 'g3'] }),
  ];
  const lay = layout(tasks, { collapsed: new Set(['g']) });
  const edges = lay.edges.map((e) => `${e.from}>${e.to}:${e.required}`).sort();
  assert.deepEqual(edges, ['group:g>sink:true', 'sink>root:true', 'src>group:g:true']);
  const ids = new Set(lay.nodes.map((n) => n.id));
  assert.deepEqual([...ids].sort(), ['g', 'group:g', 'root', 'sink', 'src']);
  const cols = columns(lay);
  assert.ok(cols.get('src') < cols.get('group:g') && cols.get('group:g') < cols.get('sink') && cols.get('sink') < cols.get('root'));
  assertNoOverlap(lay);
});

test('layout of 10000 tasks stays linear in nodes and edges', () => {
  // A chain of 100 stages of 100 tasks, each depending on 2 tasks of the previous stage.
  const tasks = [task('root')];
  for (let s = 0; s < 100; s++) {
    for (let k = 0; k < 100; k++) {
      const deps = s === 0 ? [] : [`t${s - 1}.${k}`, `t${s - 1}.${(k + 1) % 100}`];
      tasks.push(task(`t${s}.${k}`, { parent: 'root', deps }));
    }
  }
  const expanded = layout(tasks, { autoCollapse: Infinity });
  assert.equal(expanded.nodes.length, 10001);
  assert.equal(expanded.edges.length, 99 * 100 * 2);
  assert.equal(columnIds(expanded, 99).length, 100);
  const collapsed = layout(tasks);
  assert.equal(collapsed.nodes.length, 2);
  assert.equal(collapsed.edges.length, 0, 'all edges are inside the group');
});

test('layout refuses malformed input naming the task and field', () => {
  assert.throws(() => layout([task('a'), task('a')]), /task a: field id is not unique/);
  assert.throws(() => layout([{ name: 'x' }]), /tasks\[0\]: field id must be a non-empty string/);
  assert.throws(() => layout([task('a', { deps: [42] })]), /task a: field dependencies.0 is neither/);
  assert.throws(() => layout([task('a', { deps: ['b'] }), task('b', { deps: ['a'] })]), /field dependencies forms a cycle/);
  assert.throws(() => layout([task('a', { status: 'done' })], { collapsed: ['a'] }), TypeError);
  assert.throws(() => layout([task('a')], { autocollapse: 3 }), /unknown option autocollapse/);
  assert.throws(() => layout([task('a')], { autoCollapse: -1 }), /autoCollapse/);
});

test('layout of no tasks is empty', () => {
  const lay = layout([]);
  assert.deepEqual(lay.nodes, []);
  assert.deepEqual(lay.edges, []);
});

// ---------------------------------------------------------------------------------------
// criticalPath

const T = (s) => `2026-01-01T00:00:${String(s).padStart(2, '0')}.000000Z`;
const ran = (start, end, extra = {}) => ({ status: 'completed', started_at: T(start), completed_at: T(end), ...extra });

test('criticalPath of a completed tree follows the dependency that finished last', () => {
  const tasks = [
    task('root', { deps: ['merge'], ...ran(20, 21) }),
    task('fetch', { parent: 'root', ...ran(0, 5) }),
    task('slow', { parent: 'root', deps: ['fetch'], ...ran(5, 15) }),
    task('fast', { parent: 'root', deps: ['fetch'], ...ran(5, 6) }),
    task('merge', { parent: 'root', deps: ['fast', 'slow'], ...ran(15, 20) }),
  ];
  assert.deepEqual(criticalPath(tasks), ['fetch', 'slow', 'merge', 'root']);
});

test('criticalPath of a running tree ends at a running task, now as its finish', () => {
  const tasks = [
    task('root', { deps: ['a', 'b'] }),
    task('a', { parent: 'root', ...ran(0, 3) }),
    task('b', { parent: 'root', deps: ['a'], status: 'in_progress', started_at: T(3) }),
    task('c', { parent: 'root', ...ran(0, 9) }),
  ];
  assert.deepEqual(criticalPath(tasks, Date.parse(T(10))), ['a', 'b']);
  assert.deepEqual(criticalPath(tasks.filter((t) => t.id !== 'b'), Date.parse(T(10))), ['c'], 'without b, c finished last');
});

test('criticalPath: a browser clock behind the server still ends the path at a running task', () => {
  const tasks = [
    task('a', ran(0, 3)),
    task('r', { deps: ['a'], status: 'in_progress', started_at: T(3) }),
    task('c', ran(5, 9)),
  ];
  assert.deepEqual(criticalPath(tasks, Date.parse(T(8))), ['a', 'r'], 'now is taken as at least the latest completed_at');
});

test('criticalPath breaks ties by the chain that began earliest, then the first listed', () => {
  const tasks = [
    task('early', ran(0, 2)),
    task('mid', { deps: ['early'], ...ran(2, 5) }),
    task('late', ran(4, 5)),
    task('end', { deps: ['late', 'mid'], ...ran(5, 9) }),
    task('x', ran(0, 1)),
    task('y', ran(0, 1)),
    task('z', { deps: ['y', 'x'], ...ran(1, 2) }),
  ];
  assert.deepEqual(criticalPath(tasks), ['early', 'mid', 'end'], 'mid and late both ended at 5; mid\'s chain began at 0');
  assert.deepEqual(criticalPath(tasks.slice(4)), ['y', 'z'], 'x and y tie completely: the first listed');
  const sameEnd = [task('p', ran(0, 5)), task('q', { deps: ['p'], ...ran(5, 5) })];
  assert.deepEqual(criticalPath(sameEnd), ['p', 'q'], 'same finish: the longer chain');
});

test('criticalPath of a task without dependencies, and of nothing finished', () => {
  assert.deepEqual(criticalPath([task('solo', ran(0, 1))]), ['solo']);
  assert.deepEqual(criticalPath([task('a'), task('b', { deps: ['a'] })]), []);
});

test('criticalPath skips dependencies that ended after the start, or never ran', () => {
  const tasks = [
    task('a', ran(0, 2)),
    task('b', ran(0, 8)),
    task('p'),
    task('c', { deps: ['a', 'b', 'p', 'outside'], ...ran(3, 9) }),
    task('gone', { deps: ['c'], status: 'cancelled', completed_at: '2026-01-01T00:00:09.500000Z' }),
  ];
  assert.deepEqual(criticalPath(tasks), ['a', 'c', 'gone'], 'a cancelled pending task ends a path at its completed_at');
  assert.throws(() => criticalPath([task('a', { status: 'completed', completed_at: 'yesterday' })]), /task a: field completed_at/);
});

// ---------------------------------------------------------------------------------------
// a minimal fake document: enough DOM for the render functions, no innerHTML

class FakeElement {
  constructor(doc, tagName, namespaceURI) {
    Object.assign(this, { ownerDocument: doc, tagName, namespaceURI, parentNode: null });
    this.attrs = new Map();
    this.children = [];
    this.style = {};
    this.listeners = new Map();
    this.text = '';
    this.scrollTop = 0;
    this.clientHeight = 0;
  }

  setAttribute(k, v) { this.attrs.set(k, String(v)); }

  getAttribute(k) { return this.attrs.get(k) ?? null; }

  get classes() { return (this.getAttribute('class') ?? '').split(' ').filter(Boolean); }

  append(...nodes) { for (const n of nodes) this.insertBefore(n, null); }

  insertBefore(node, ref) {
    node.remove();
    const at = ref === null ? this.children.length : this.children.indexOf(ref);
    assert.ok(at >= 0, 'insertBefore: reference is not a child');
    this.children.splice(at, 0, node);
    node.parentNode = this;
    return node;
  }

  remove() {
    if (!this.parentNode) return;
    this.parentNode.children.splice(this.parentNode.children.indexOf(this), 1);
    this.parentNode = null;
  }

  replaceChildren(...nodes) {
    for (const c of [...this.children]) c.remove();
    this.append(...nodes);
  }

  set textContent(v) { this.replaceChildren(); this.text = String(v); }

  get textContent() { return this.text + this.children.map((c) => c.textContent).join(''); }

  set innerHTML(_) { throw new Error('innerHTML must not be used'); }

  addEventListener(type, fn) { this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]); }

  /** Dispatches a bubbling event; returns it. */
  dispatch(type, props = {}) {
    const event = { type, target: this, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; }, ...props };
    for (let n = this; n; n = n.parentNode) for (const fn of n.listeners.get(type) ?? []) fn(event);
    return event;
  }

  focus() { this.ownerDocument.activeElement = this; }

  /** All descendants matching pred, in document order. */
  findAll(pred) {
    const out = [];
    const walk = (n) => { for (const c of n.children) { if (pred(c)) out.push(c); walk(c); } };
    walk(this);
    return out;
  }

  find(pred) { return this.findAll(pred)[0]; }
}

function fakeDocument() {
  const doc = {
    activeElement: null,
    createElement: (tag) => new FakeElement(doc, tag, 'html'),
    createElementNS: (ns, tag) => new FakeElement(doc, tag, ns),
  };
  return doc;
}

const hasClass = (...names) => (el) => names.every((c) => el.classes.includes(c));

// ---------------------------------------------------------------------------------------
// renderGraph

function setupGraph(tasks, opts = {}, layoutOpts = {}) {
  const doc = fakeDocument();
  const container = doc.createElement('div');
  const selected = [];
  const toggled = [];
  const lay = layout(tasks, layoutOpts);
  const graph = renderGraph(container, lay, { onSelect: (id) => selected.push(id), onToggleGroup: (id) => toggled.push(id), ...opts });
  const svg = container.children[0];
  const nodeG = (id) => svg.find((el) => el.getAttribute('data-id') === id);
  return { doc, container, svg, graph, lay, selected, toggled, nodeG };
}

test('renderGraph draws one accessible node per layout node, names as text', () => {
  const tasks = [
    task('root', { deps: ['fetch'], name: '<img src=x onerror=alert(1)>' }),
    task('fetch', { parent: 'root', status: 'in_progress', progress: 0.4, schemas: { method: 'http_get' } }),
  ];
  const { svg, nodeG, lay } = setupGraph(tasks);
  assert.equal(svg.tagName, 'svg');
  assert.equal(svg.getAttribute('viewBox'), `0 0 ${lay.width} ${lay.height}`);
  const groups = svg.findAll((el) => el.getAttribute('data-id') !== null);
  assert.equal(groups.length, 2);
  const fetch = nodeG('fetch');
  assert.equal(fetch.getAttribute('tabindex'), '0');
  assert.equal(fetch.getAttribute('role'), 'button');
  assert.equal(fetch.getAttribute('aria-label'), 'fetch, in_progress, 40%');
  assert.deepEqual(fetch.find(hasClass('node')).classes, ['node', 'status-in_progress']);
  assert.equal(fetch.find(hasClass('method')).textContent, 'in progress · http_get', 'the status is written, then the executor');
  assert.equal(fetch.find(hasClass('progress-bar')).getAttribute('width'), String((184 - 16) * 0.4));
  const root = nodeG('root');
  assert.equal(root.find(hasClass('name')).textContent.startsWith('<img'), true, 'the name is text');
  assert.equal(root.find(hasClass('progress-bar')), undefined, 'no progress bar unless in_progress');
  assert.equal(root.getAttribute('aria-label'), '<img src=x onerror=alert(1)>, pending');
});

test('renderGraph edges: required, optional, critical, with arrowheads', () => {
  const tasks = [
    task('a', ran(0, 1)),
    task('b', { deps: ['a'], ...ran(1, 2) }),
    task('c', { deps: [{ id: 'a', required: false }, 'b'], ...ran(2, 3) }),
  ];
  const critical = new Set(criticalPath(tasks));
  assert.deepEqual([...critical], ['a', 'b', 'c']);
  const { svg, nodeG } = setupGraph(tasks, { critical });
  const edges = svg.findAll(hasClass('edge'));
  assert.equal(edges.length, 3);
  const classes = edges.map((e) => e.classes.join(' ')).sort();
  assert.deepEqual(classes, ['edge optional', 'edge required critical', 'edge required critical'], 'a>c skips a step of the path');
  for (const e of edges) assert.match(e.getAttribute('marker-end'), /^url\(#apflow-arrow-/);
  assert.ok(nodeG('b').find(hasClass('node')).classes.includes('critical'));
  assert.equal(svg.findAll((el) => el.tagName === 'marker').length, 2);
});

test('renderGraph: click, Enter and Space select; a group toggles', () => {
  const { svg, nodeG, selected, toggled } = setupGraph(wideTree(60));
  nodeG('root').find(hasClass('name')).dispatch('click');
  assert.equal(nodeG('root').dispatch('keydown', { key: 'Enter' }).defaultPrevented, true);
  nodeG('root').dispatch('keydown', { key: ' ' });
  assert.equal(nodeG('root').dispatch('keydown', { key: 'a' }).defaultPrevented, false);
  assert.deepEqual(selected, ['root', 'root', 'root']);
  nodeG('group:root').dispatch('click');
  nodeG('group:root').dispatch('keydown', { key: 'Enter' });
  nodeG('group:root').dispatch('keydown', { key: '+' });
  nodeG('group:root').dispatch('keydown', { key: '-' });
  assert.deepEqual(toggled, ['root', 'root', 'root']);
  svg.dispatch('click');
  assert.equal(selected.length + toggled.length, 6, 'a click beside the nodes selects nothing');
  assert.equal(nodeG('root').getAttribute('aria-expanded'), 'false');
  assert.equal(nodeG('root').find(hasClass('toggle')).textContent, '+');
  nodeG('root').find(hasClass('toggle')).children[0].dispatch('click');
  nodeG('root').dispatch('keydown', { key: '-' });
  assert.equal(nodeG('root').dispatch('keydown', { key: '+' }).defaultPrevented, true);
  assert.deepEqual(toggled, ['root', 'root', 'root', 'root', 'root'], 'click on the toggle and "+" expand; "-" does nothing when collapsed');
  assert.equal(selected.length, 3);
});

test('renderGraph: an expanded parent offers "-" to collapse, a leaf no toggle', () => {
  const { nodeG, toggled } = setupGraph([task('root'), task('a', { parent: 'root' })]);
  assert.equal(nodeG('root').getAttribute('aria-expanded'), 'true');
  assert.equal(nodeG('root').find(hasClass('toggle')).textContent, '−');
  nodeG('root').dispatch('keydown', { key: '+' });
  nodeG('root').dispatch('keydown', { key: '-' });
  nodeG('a').dispatch('keydown', { key: '-' });
  assert.equal(nodeG('a').getAttribute('aria-expanded'), null);
  assert.equal(nodeG('a').find(hasClass('toggle')), undefined);
  assert.deepEqual(toggled, ['root']);
});

test('renderGraph update changes one node in place, or its group counts', () => {
  const { graph, nodeG } = setupGraph(wideTree(60, () => 'pending'));
  const root = nodeG('root');
  assert.equal(graph.update({ id: 'root', status: 'completed', progress: 1 }), true);
  assert.equal(nodeG('root'), root, 'same element');
  assert.deepEqual(root.find(hasClass('node')).classes, ['node', 'status-completed']);
  assert.equal(root.getAttribute('aria-label'), 'root, completed');
  assert.equal(root.find(hasClass('progress-bar')), undefined);
  graph.update({ id: 'root', status: 'in_progress', progress: 0.5 });
  assert.equal(root.getAttribute('aria-label'), 'root, in_progress, 50%');
  assert.equal(root.findAll(hasClass('progress-bar')).length, 1);

  const group = nodeG('group:root');
  assert.match(group.getAttribute('aria-label'), /^group of 60 tasks under root: 60 pending; activate to expand$/);
  graph.update({ id: 'c1', status: 'in_progress' });
  graph.update({ id: 'c2', status: 'completed' });
  graph.update({ id: 'c2', status: 'completed' });
  graph.update({ id: 'c3', progress: 0.3 });
  assert.match(group.getAttribute('aria-label'), /: 58 pending, 1 in_progress, 1 completed;/);
  assert.equal(group.find(hasClass('method')).textContent.startsWith('58 pending'), true);
  const widths = Object.fromEntries(STATUSES.map((s) => [s, Number(group.find(hasClass('segment', `status-${s}`)).getAttribute('width'))]));
  assert.equal(widths.completed, (184 - 16) / 60);
  assert.equal(graph.update({ id: 'unknown', status: 'failed' }), false);
  assert.throws(() => graph.update({ id: 'root', status: 'done' }), /task root: field status/);
});

test('renderGraph of a large graph draws only the nodes in view, and more on scroll', () => {
  const doc = fakeDocument();
  const container = doc.createElement('div');
  Object.assign(container, { clientWidth: 800, clientHeight: 600 });
  const lay = layout(wideTree(2000), { autoCollapse: Infinity });
  const graph = renderGraph(container, lay, {});
  const svg = container.children[0];
  const shown = () => svg.findAll((el) => el.getAttribute('data-id') !== null).map((el) => el.getAttribute('data-id'));
  const first = shown();
  assert.ok(first.includes('c0') && first.includes('root') && first.length < 60, `${first.length} nodes drawn`);
  assert.equal(svg.findAll(hasClass('edge')).length, first.length - 1, 'the edges between drawn nodes');
  const keep = svg.find((el) => el.getAttribute('data-id') === 'c5');
  assert.equal(graph.update({ id: 'c1000', status: 'failed' }), true, 'a node not drawn takes the update');
  container.scrollTop = lay.nodes.find((n) => n.id === 'c1000').y - 100;
  container.dispatch('scroll');
  const later = shown();
  assert.ok(later.includes('c1000') && !later.includes('c0') && !later.includes('root') && later.length < 60);
  const c1000 = svg.find((el) => el.getAttribute('data-id') === 'c1000');
  assert.deepEqual(c1000.find(hasClass('node')).classes, ['node', 'status-failed']);
  assert.equal(svg.findAll(hasClass('edge')).length, 0, 'no edge to a node not drawn');
  container.scrollTop = 0;
  container.dispatch('scroll');
  assert.equal(svg.find((el) => el.getAttribute('data-id') === 'c5'), keep, 'a node drawn again is the same element');
  const order = shown();
  const layoutOrder = lay.nodes.map((n) => n.id).filter((id) => order.includes(id));
  assert.deepEqual(order, layoutOrder, 'nodes stay in layout (tab) order');
});

// ---------------------------------------------------------------------------------------
// renderGantt

function setupGantt(count, opts = {}) {
  const doc = fakeDocument();
  const container = doc.createElement('div');
  const tasks = Array.from({ length: count }, (_, i) => task(`t${i}`, {
    created_at: T(0), ...(i === 1 ? { status: 'in_progress', started_at: T(2) } : i % 2 ? {} : ran(1 + (i % 5), 3 + (i % 5))),
  }));
  const selected = [];
  const gantt = renderGantt(container, tasks, { onSelect: (id) => selected.push(id), now: Date.parse(T(10)), ...opts });
  const scroller = container.children[0];
  const rows = () => scroller.findAll(hasClass('gantt-row'));
  return { doc, scroller, gantt, rows, selected, tasks };
}

test('renderGantt renders only the rows in view and more on scroll', () => {
  const { scroller, rows } = setupGantt(10000);
  const body = scroller.find(hasClass('gantt-body'));
  assert.equal(body.style.height, `${10000 * 22}px`, 'the spacer has the full height');
  const first = rows().length;
  assert.ok(first > 0 && first < 100, `${first} rows rendered`);
  scroller.clientHeight = 440;
  scroller.scrollTop = 5000 * 22;
  scroller.dispatch('scroll');
  const tops = rows().map((r) => Number.parseInt(r.style.top, 10) / 22);
  assert.ok(tops.length < 100);
  assert.ok(tops.includes(5000) && tops.includes(5018), 'the rows in view exist');
  assert.deepEqual(tops, [...tops].sort((a, b) => a - b), 'rows stay in document order');
  scroller.scrollTop -= 22 * 15;
  scroller.dispatch('scroll');
  const again = rows().map((r) => Number.parseInt(r.style.top, 10) / 22);
  assert.deepEqual(again, [...again].sort((a, b) => a - b), 'rows inserted above keep document order');
});

test('renderGantt rows: bars, classes, order, axis', () => {
  const { scroller, rows } = setupGantt(4, { critical: new Set(['t0']) });
  const byId = Object.fromEntries(rows().map((r) => [r.getAttribute('data-id'), r]));
  assert.deepEqual(rows().map((r) => r.getAttribute('data-id')), ['t0', 't1', 't2', 't3'], 'by start: t0@1 t1@2 t2@3, t3 never');
  assert.deepEqual(byId.t0.classes, ['gantt-row', 'status-completed', 'critical']);
  assert.deepEqual(byId.t1.classes, ['gantt-row', 'status-in_progress']);
  // the axis runs from the first start (1s) to now (10s) since t1 runs
  const ran0 = byId.t0.find(hasClass('gantt-ran'));
  assert.equal(ran0.style.left, '0%');
  assert.equal(byId.t1.find(hasClass('gantt-ran')).style.width, 'calc(100% - 11.1111%)');
  assert.equal(byId.t3.find(hasClass('gantt-ran')).style.display, 'none');
  assert.equal(byId.t3.find(hasClass('gantt-wait')).style.width, 'calc(100% - 0%)', 'a pending task waits to the end');
  assert.equal(byId.t1.getAttribute('aria-label'), 't1, in_progress, 0%, ran 8s');
  assert.equal(byId.t0.find(hasClass('gantt-name')).textContent, 't0 · completed', 'the status is written beside the name');
  const ticks = scroller.findAll(hasClass('gantt-tick')).map((t) => t.textContent);
  assert.deepEqual(ticks, ['0', '2s', '4s', '6s', '8s']);
  assert.equal(scroller.find(hasClass('gantt-start')).textContent, '2026-01-01 00:00:01 UTC');
});

test('renderGantt: keyboard and click select, arrows move focus, update in place', () => {
  const { doc, rows, selected, gantt, scroller } = setupGantt(50);
  const row = rows()[0];
  row.dispatch('keydown', { key: 'Enter' });
  row.dispatch('click');
  assert.deepEqual(selected, ['t0', 't0']);
  row.dispatch('keydown', { key: 'ArrowDown' });
  assert.equal(doc.activeElement, rows()[1]);
  const row1 = () => rows().find((r) => r.getAttribute('data-id') === 't1');
  const before = row1();
  assert.equal(before.find(hasClass('gantt-ran')).style.left, '11.1111%', 'the axis runs 1s..10s');
  assert.equal(gantt.update({ id: 't1', status: 'completed', completed_at: T(20) }, Date.parse(T(10))), true);
  assert.equal(row1(), before, 'updated in place');
  assert.deepEqual(before.classes, ['gantt-row', 'status-completed']);
  assert.equal(before.find(hasClass('gantt-ran')).style.left, '5.2632%', 'the axis grew to 1s..20s');
  assert.equal(rows()[0].find(hasClass('gantt-ran')).style.width, 'calc(10.5263% - 0%)', 'other rows rescaled');
  assert.equal(gantt.update({ id: 'nope' }), false);
  assert.ok(scroller.findAll(hasClass('gantt-tick')).length > 0);
});

// ---------------------------------------------------------------------------------------
// time formatting

test('renderGantt update of a pending task keeps the axis start; a running task moves its end', () => {
  const { scroller, gantt } = setupGantt(4);
  const start = () => scroller.find(hasClass('gantt-start')).textContent;
  const ticks = () => scroller.findAll(hasClass('gantt-tick')).map((t) => t.textContent).join(' ');
  assert.equal(start(), '2026-01-01 00:00:01 UTC');
  gantt.update({ id: 't3', created_at: '2025-12-31T00:00:00Z' }, Date.parse(T(10)));
  assert.equal(start(), '2026-01-01 00:00:01 UTC', 'the axis starts at the first start');
  assert.equal(ticks(), '0 2s 4s 6s 8s');
  gantt.update({ id: 't0', progress: 0.5 }, Date.parse(T(40)));
  assert.equal(ticks(), '0 5s 10s 15s 20s 25s 30s 35s', 'the running t1 now ends at 40s');
});

test('render functions refuse unknown options', () => {
  const doc = fakeDocument();
  assert.throws(() => renderGraph(doc.createElement('div'), layout([]), { onselect: () => {} }), /renderGraph: unknown option onselect/);
  assert.throws(() => renderGantt(doc.createElement('div'), [], { rowheight: 3 }), /renderGantt: unknown option rowheight/);
  assert.throws(() => renderGantt(doc.createElement('div'), [], { rowHeight: 0 }), /rowHeight/);
  assert.throws(() => criticalPath([], 'soon'), /criticalPath: now/);
});

test('formatDuration and tickOffsets are readable and round', () => {
  assert.deepEqual([250, 1500, 45e3, 90e3, 7500e3, 3 * 86400e3 + 4 * 3600e3].map(formatDuration), ['250ms', '1.5s', '45s', '1m30s', '2h5m', '3d4h']);
  assert.deepEqual(tickOffsets(9000), [0, 2000, 4000, 6000, 8000]);
  assert.deepEqual(tickOffsets(60 * 60e3), [0, 10, 20, 30, 40, 50, 60].map((m) => m * 60e3));
  assert.ok(tickOffsets(40 * 86400e3).length <= 9);
});
