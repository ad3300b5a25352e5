// Drawing of a task tree for the dashboard's tree page: a dependency graph laid out left to
// right, its critical path, and a virtualised timeline. Plain ES module, no dependencies,
// no global state. layout and criticalPath are pure; the render functions build DOM through
// the container's ownerDocument and set every user-given text with textContent.
//
// Task fields used (docs/api.md, docs/tree-format.md): id, name, parent_id, status,
// priority, progress, dependencies, schemas.method (or params.executor_id), created_at,
// started_at, completed_at.

/** The statuses a task can have (docs/semantics.md rule 1), in display order. */
export const STATUSES = Object.freeze(['pending', 'in_progress', 'completed', 'failed', 'cancelled']);

/** Size of a node and the gaps between them, in SVG user units. */
export const NODE = Object.freeze({ w: 184, h: 48, colGap: 64, rowGap: 12, margin: 16 });

const SVG_NS = 'http://www.w3.org/2000/svg';
const DEFAULT_PRIORITY = 2;

// ---------------------------------------------------------------------------------------
// flatten

/**
 * Flattens a tasks.tree answer (`{task, children: [...]}`, nested) into an array of tasks.
 *
 * Guarantees: pre-order (a parent before its children, children in the given order); no
 * recursion, so a chain of any depth is fine; the task objects are returned as given, not
 * copied. Throws a TypeError naming the offending node when a node has no `task` object or
 * its `children` is present but not an array.
 *
 * @param {{task: object, children?: object[]}} node
 * @returns {object[]}
 */
export function flatten(node) {
  const out = [];
  const stack = [[node, 'tree']];
  while (stack.length > 0) {
    const [n, where] = stack.pop();
    if (!isObject(n) || !isObject(n.task)) {
      throw new TypeError(`flatten: ${where} is not a {task, children} node`);
    }
    out.push(n.task);
    const kids = n.children ?? [];
    if (!Array.isArray(kids)) {
      throw new TypeError(`flatten: task ${n.task.id}: field children is not an array`);
    }
    for (let i = kids.length - 1; i >= 0; i--) {
      stack.push([kids[i], `children[${i}] of task ${n.task.id}`]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// shared indexing

/**
 * Indexes tasks by id and resolves their dependencies to indices, as compressed lists:
 * the dependencies of task i are dep.items[dep.start[i] .. dep.start[i+1]) with
 * dep.required alongside. Dependencies naming a task outside `tasks` are dropped; two
 * items naming the same task keep the first.
 * @returns {{byId: Map<string, number>, dep: {start: Int32Array, items: number[], required: boolean[]}}}
 */
function indexTasks(tasks) {
  if (!Array.isArray(tasks)) throw new TypeError('tasks must be an array of tasks');
  const n = tasks.length;
  const byId = new Map();
  for (let i = 0; i < n; i++) {
    const t = tasks[i];
    if (!isObject(t) || typeof t.id !== 'string' || t.id === '') {
      throw new TypeError(`tasks[${i}]: field id must be a non-empty string`);
    }
    if (byId.has(t.id)) throw new Error(`task ${t.id}: field id is not unique (tasks[${i}])`);
    byId.set(t.id, i);
  }
  const dep = { start: new Int32Array(n + 1), items: [], required: [] };
  const seenBy = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const list = tasks[i].dependencies ?? [];
    if (!Array.isArray(list)) throw new TypeError(`task ${tasks[i].id}: field dependencies is not an array`);
    for (let k = 0; k < list.length; k++) {
      const item = list[k];
      const id = typeof item === 'string' ? item : isObject(item) ? item.id : undefined;
      if (typeof id !== 'string') {
        throw new TypeError(`task ${tasks[i].id}: field dependencies.${k} is neither an id nor {id, required}`);
      }
      const index = byId.get(id);
      if (index === undefined || seenBy[index] === i) continue;
      seenBy[index] = i;
      dep.items.push(index);
      dep.required.push(typeof item === 'string' || item.required !== false);
    }
    dep.start[i + 1] = dep.items.length;
  }
  return { byId, dep };
}

/**
 * Topological order of task indices, dependencies first (Kahn's algorithm, O(n + e)).
 * Throws naming a task of a dependency cycle (the server refuses cycles, so one means the
 * data is corrupt).
 */
function topoOrder(tasks, dep) {
  const n = tasks.length;
  const dependents = csr(n, (i, add) => {
    for (let j = dep.start[i]; j < dep.start[i + 1]; j++) add(dep.items[j], i);
  });
  const waiting = new Int32Array(n);
  const order = [];
  for (let i = 0; i < n; i++) {
    waiting[i] = dep.start[i + 1] - dep.start[i];
    if (waiting[i] === 0) order.push(i);
  }
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    for (let j = dependents.start[i]; j < dependents.start[i + 1]; j++) {
      const d = dependents.items[j];
      if (--waiting[d] === 0) order.push(d);
    }
  }
  if (order.length < n) {
    const i = waiting.findIndex((w) => w > 0);
    throw new Error(`task ${tasks[i].id}: field dependencies forms a cycle`);
  }
  return order;
}

/**
 * Compressed adjacency lists: `emit(i, add)` calls add(from, to) for the pairs of i, and
 * must emit the same pairs when called twice. Returns {start, items}: the neighbours of v
 * are items[start[v] .. start[v+1]), in emission order.
 */
function csr(n, emit) {
  const start = new Int32Array(n + 1);
  const count = (from) => { start[from + 1]++; };
  for (let i = 0; i < n; i++) emit(i, count);
  for (let v = 0; v < n; v++) start[v + 1] += start[v];
  const fill = start.slice(0, n);
  const items = new Int32Array(start[n]);
  const put = (from, to) => { items[fill[from]++] = to; };
  for (let i = 0; i < n; i++) emit(i, put);
  return { start, items };
}

// ---------------------------------------------------------------------------------------
// layout

/**
 * Lays a tree out left to right by dependency depth. Pure: no DOM, the tasks are not
 * modified.
 *
 * - Columns: a task's column is 1 + the highest column of its dependencies among `tasks`
 *   (0 without any); dependencies naming tasks outside `tasks` are ignored.
 * - Groups: `parent_id` groups tasks. A parent with more than `autoCollapse` children is
 *   collapsed unless its id is in `expanded`; a parent whose id is in `collapsed` is
 *   collapsed too. A collapsed parent stays a node of its own; all its descendants become
 *   one group node (`id` "group:<parent id>", `parentId`, `counts` per status with every
 *   status of STATUSES present, `total`, `members`: the tasks inside). When groups nest,
 *   the outermost collapsed ancestor wins. A group sits in the lowest column of its
 *   members; columns left empty by collapsing are removed, so columns keep their order.
 * - Rows: within a column, nodes are ordered by parent (parents in tree pre-order), then
 *   priority (0 first, absent = 2), then name (digit runs compare as numbers), then id; a
 *   group comes first among its parent's children. Nodes never overlap.
 * - Edges: one per dependency, from the dependency to the dependent, `required` as given
 *   (default true). An end inside a collapsed group is redirected to the group node; edges
 *   inside one group are dropped; duplicates are merged into one edge, required when any
 *   of the merged ones is.
 * - A task node is `{id, x, y, w, h, task, children, collapsed}`: `children` counts its
 *   direct children among `tasks`, `collapsed` tells whether they are in a group node.
 * - `nodes` are listed column by column, top to bottom (a sensible tab order).
 *
 * Cost: O(n + e) plus one sort of the siblings (n log n); no quadratic step.
 *
 * Throws a TypeError for an unknown option or a malformed task (naming the task and the
 * field) and an Error for duplicate ids or a dependency cycle.
 *
 * @param {object[]} tasks
 * @param {{collapsed?: Iterable<string>, expanded?: Iterable<string>, autoCollapse?: number}} [options]
 * @returns {{nodes: object[], edges: {from: string, to: string, required: boolean}[], width: number, height: number}}
 */
export function layout(tasks, options = {}) {
  const { collapsed, expanded, autoCollapse } = layoutOptions(options);
  const { byId, dep } = indexTasks(tasks);
  const tree = parentTree(tasks, byId);
  const isCollapsed = (p) => {
    const kids = tree.children.start[p + 1] - tree.children.start[p];
    if (kids === 0) return false;
    const id = tasks[p].id;
    return collapsed.has(id) || (kids > autoCollapse && !expanded.has(id));
  };
  const owner = groupOwners(tasks, tree, isCollapsed);
  const units = buildUnits(tasks, { owner, tree, isCollapsed }, taskColumns(tasks, dep), byId);
  const columnCount = compactColumns(units);
  const rows = placeUnits(units, rowOrder(tasks, tree, owner), columnCount);
  const edges = buildEdges(tasks, dep, owner, units);
  return {
    nodes: units.placed.map((u) => u.node),
    edges,
    width: extent(columnCount, NODE.w, NODE.colGap),
    height: extent(rows, NODE.h, NODE.rowGap),
  };
}

function layoutOptions(options) {
  checkOptions('layout', options, ['collapsed', 'expanded', 'autoCollapse']);
  const autoCollapse = options.autoCollapse ?? 50;
  if (typeof autoCollapse !== 'number' || Number.isNaN(autoCollapse) || autoCollapse < 0) {
    throw new TypeError('layout: option autoCollapse must be a number >= 0 (Infinity disables it)');
  }
  return {
    collapsed: idSet(options.collapsed, 'collapsed'),
    expanded: idSet(options.expanded, 'expanded'),
    autoCollapse,
  };
}

function idSet(value, name) {
  if (value === undefined || value === null) return new Set();
  if (value instanceof Set) return value;
  if (typeof value[Symbol.iterator] !== 'function') throw new TypeError(`layout: option ${name} must be a Set of ids`);
  return new Set(value);
}

/**
 * Parent index per task (-1 for a root, or a parent outside tasks) and children lists
 * sorted by priority, name (natural), id.
 */
function parentTree(tasks, byId) {
  const n = tasks.length;
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const pid = tasks[i].parent_id;
    const p = pid == null ? undefined : byId.get(pid);
    parent[i] = p === undefined || p === i ? -1 : p;
  }
  const children = csr(n, (i, add) => { if (parent[i] >= 0) add(parent[i], i); });
  const cmp = taskComparator(tasks);
  const { start, items } = children;
  for (let p = 0; p < n; p++) {
    if (start[p + 1] - start[p] > 1) items.set(Array.from(items.subarray(start[p], start[p + 1])).sort(cmp), start[p]);
  }
  const roots = [];
  for (let i = 0; i < n; i++) if (parent[i] < 0) roots.push(i);
  roots.sort(cmp);
  return { parent, children, roots };
}

/** Compares task indices by priority, name (natural), id. */
function taskComparator(tasks) {
  const prio = Int32Array.from(tasks, priorityOf);
  const names = Array.from(tasks, (t) => String(t.name ?? ''));
  return (a, b) => prio[a] - prio[b] || naturalCompare(names[a], names[b]) || compareStrings(tasks[a].id, tasks[b].id);
}

function priorityOf(task) {
  return Number.isInteger(task.priority) ? task.priority : DEFAULT_PRIORITY;
}

/**
 * Natural order: code units, except that runs of ASCII digits compare as numbers ("x9" <
 * "x10"; leading zeros do not count). Builds no strings.
 */
function naturalCompare(a, b) {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigit(ca) && isDigit(cb)) {
      const ra = digitRun(a, i);
      const rb = digitRun(b, j);
      const byLength = (ra.end - ra.start) - (rb.end - rb.start);
      if (byLength !== 0) return byLength;
      for (let k = 0; k < ra.end - ra.start; k++) {
        const d = a.charCodeAt(ra.start + k) - b.charCodeAt(rb.start + k);
        if (d !== 0) return d;
      }
      i = ra.end;
      j = rb.end;
    } else if (ca !== cb) {
      return ca - cb;
    } else {
      i++;
      j++;
    }
  }
  return (a.length - i) - (b.length - j);
}

function isDigit(c) {
  return c >= 48 && c <= 57;
}

/** The digit run starting at i: {start} after its leading zeros (one kept), {end}. */
function digitRun(s, i) {
  let end = i;
  while (end < s.length && isDigit(s.charCodeAt(end))) end++;
  let start = i;
  while (start < end - 1 && s.charCodeAt(start) === 48) start++;
  return { start, end };
}

function compareStrings(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Visits every task once, parents before children, siblings in sorted order: from the
 * roots, then from any task a parent cycle left unreached. Calls visit(i). No recursion.
 */
function preorder(tasks, tree, visit) {
  const n = tasks.length;
  const seen = new Uint8Array(n);
  const { start, items } = tree.children;
  const walk = (root) => {
    const stack = [root];
    seen[root] = 1;
    while (stack.length > 0) {
      const p = stack.pop();
      visit(p);
      for (let j = start[p + 1] - 1; j >= start[p]; j--) {
        const c = items[j];
        if (!seen[c]) { seen[c] = 1; stack.push(c); }
      }
    }
  };
  tree.roots.forEach(walk);
  for (let i = 0; i < n; i++) if (!seen[i]) walk(i);
}

/**
 * For every task the index of its outermost collapsed ancestor, or -1 when it is visible.
 */
function groupOwners(tasks, tree, isCollapsed) {
  const owner = new Int32Array(tasks.length).fill(-1);
  const { start, items } = tree.children;
  preorder(tasks, tree, (p) => {
    const inherited = owner[p] >= 0 ? owner[p] : isCollapsed(p) ? p : -1;
    if (inherited < 0) return;
    for (let j = start[p]; j < start[p + 1]; j++) if (items[j] !== inherited) owner[items[j]] = inherited;
  });
  return owner;
}

/** Dependency depth of every task: 1 + the highest depth of its dependencies. */
function taskColumns(tasks, dep) {
  const column = new Int32Array(tasks.length);
  for (const i of topoOrder(tasks, dep)) {
    let c = 0;
    for (let j = dep.start[i]; j < dep.start[i + 1]; j++) c = Math.max(c, column[dep.items[j]] + 1);
    column[i] = c;
  }
  return column;
}

/**
 * The drawable units: a visible task at its own index, the group of owner p at n + p.
 * Each has its column (a group: the lowest of its members) and its layout node.
 */
function buildUnits(tasks, { owner, tree, isCollapsed }, column, byId) {
  const n = tasks.length;
  const byIndex = new Array(2 * n);
  for (let i = 0; i < n; i++) {
    const task = tasks[i];
    const p = owner[i];
    const status = statusOf(task);
    if (p < 0) {
      const children = tree.children.start[i + 1] - tree.children.start[i];
      const node = { id: task.id, x: 0, y: 0, w: NODE.w, h: NODE.h, task, children, collapsed: children > 0 && isCollapsed(i) };
      byIndex[i] = { column: column[i], node };
      continue;
    }
    let unit = byIndex[n + p];
    if (unit === undefined) {
      const node = {
        id: groupId(tasks[p].id, byId), group: true, parentId: tasks[p].id,
        x: 0, y: 0, w: NODE.w, h: NODE.h, counts: emptyCounts(), total: 0, members: [],
      };
      unit = byIndex[n + p] = { column: column[i], node };
    }
    unit.column = Math.min(unit.column, column[i]);
    unit.node.members.push(task);
    unit.node.total++;
    unit.node.counts[status]++;
  }
  return { byIndex, placed: [] };
}

/** Size along one axis of `count` cells of `size` separated by `gap`, with margins. */
function extent(count, size, gap) {
  return 2 * NODE.margin + (count === 0 ? 0 : count * size + (count - 1) * gap);
}

/** "group:<parent id>", prefixed again while it would equal a task id. */
function groupId(parentId, byId) {
  let id = `group:${parentId}`;
  while (byId.has(id)) id = `group:${id}`;
  return id;
}

function emptyCounts() {
  return { pending: 0, in_progress: 0, completed: 0, failed: 0, cancelled: 0 };
}

/** Renumbers the used columns 0..count-1 keeping their order, O(n); returns count. */
function compactColumns(units) {
  let max = -1;
  for (const u of units.byIndex) if (u) max = Math.max(max, u.column);
  const to = new Int32Array(max + 1).fill(-1);
  for (const u of units.byIndex) if (u) to[u.column] = 0;
  let count = 0;
  for (let c = 0; c <= max; c++) if (to[c] === 0) to[c] = count++;
  for (const u of units.byIndex) if (u) u.column = to[u.column];
  return count;
}

/**
 * Unit indices in row order: sorted roots, then for each task in pre-order its group (when
 * it owns one) or its visible children, in sibling order. Sorted by (parent's pre-order
 * rank, priority, name, id) without another sort, since siblings are already sorted.
 */
function rowOrder(tasks, tree, owner) {
  const n = tasks.length;
  const order = tree.roots.slice();
  const { start, items } = tree.children;
  preorder(tasks, tree, (p) => {
    if (owner[p] >= 0) return;
    const first = start[p] < start[p + 1] ? items[start[p]] : -1;
    if (first >= 0 && owner[first] === p) {
      order.push(n + p);
      return;
    }
    for (let j = start[p]; j < start[p + 1]; j++) if (owner[items[j]] < 0) order.push(items[j]);
  });
  return order;
}

/** Gives every unit its x and y, row by row within its column; returns the most rows. */
function placeUnits(units, order, columnCount) {
  const buckets = Array.from({ length: columnCount }, () => []);
  for (const index of order) {
    const unit = units.byIndex[index];
    buckets[unit.column].push(unit);
  }
  let rows = 0;
  buckets.forEach((bucket, c) => {
    bucket.forEach((u, row) => {
      u.node.x = NODE.margin + c * (NODE.w + NODE.colGap);
      u.node.y = NODE.margin + row * (NODE.h + NODE.rowGap);
      units.placed.push(u);
    });
    rows = Math.max(rows, bucket.length);
  });
  return rows;
}

/** Edges between units, redirected into groups, deduplicated (required wins). */
function buildEdges(tasks, dep, owner, units) {
  const n = tasks.length;
  const unitOf = (i) => (owner[i] < 0 ? i : n + owner[i]);
  const byPair = new Map();
  const edges = [];
  for (let i = 0; i < n; i++) {
    const to = unitOf(i);
    for (let j = dep.start[i]; j < dep.start[i + 1]; j++) {
      const from = unitOf(dep.items[j]);
      if (from === to) continue;
      const key = from * 2 * n + to;
      const seen = byPair.get(key);
      if (seen) {
        seen.required ||= dep.required[j];
        continue;
      }
      const edge = { from: units.byIndex[from].node.id, to: units.byIndex[to].node.id, required: dep.required[j] };
      byPair.set(key, edge);
      edges.push(edge);
    }
  }
  return edges;
}

// ---------------------------------------------------------------------------------------
// critical path

/**
 * The critical path: the chain of dependencies that decided when the tree ended or, while
 * it runs, the longest chain so far. Returned as task ids, first to last.
 *
 * Definition:
 * - finish(t): `completed_at` of a completed, failed or cancelled task; `now` for an
 *   in_progress task, taken as at least the latest started_at/completed_at of `tasks` (a
 *   browser clock behind the server's cannot end a running task before a finished one);
 *   none for a pending task (pending tasks are never on the path).
 * - start(t): `started_at`, or finish(t) for a task that ended without starting (cancelled
 *   while pending).
 * - pred(t): among t's dependencies inside `tasks` (required or optional: both gate the
 *   start) that have a finish time not after start(t), the one that finished last. Ties:
 *   the one whose own chain began earliest, then the first listed.
 * - The path ends at the task that finished last (ties: the chain that began earliest,
 *   then the longer chain, then the first in `tasks`) and follows pred back to a task
 *   without one.
 *
 * Empty when no task has a finish time. O(n + e). Throws like layout on malformed tasks
 * and cycles, and a TypeError naming the task and field for a timestamp that is not ISO.
 *
 * @param {object[]} tasks
 * @param {number|Date} [now] the time in ms since the epoch used as in_progress tasks' finish
 * @returns {string[]}
 */
export function criticalPath(tasks, now = Date.now()) {
  const { dep } = indexTasks(tasks);
  const nowMs = Math.max(timeOption('criticalPath', now), latestTime(tasks));
  const order = topoOrder(tasks, dep);
  const n = tasks.length;
  const finish = new Float64Array(n).fill(NaN);
  const start = new Float64Array(n).fill(NaN);
  const pred = new Int32Array(n).fill(-1);
  const chainStart = new Float64Array(n);
  const chainLength = new Int32Array(n);
  tasks.forEach((t, i) => {
    finish[i] = finishTime(t, nowMs);
    start[i] = t.started_at ? parseTime(t, 'started_at') : finish[i];
  });
  let end = -1;
  for (const i of order) {
    if (Number.isNaN(finish[i])) continue;
    pred[i] = lastBefore(dep, i, start[i], finish, chainStart);
    chainStart[i] = pred[i] < 0 ? start[i] : chainStart[pred[i]];
    chainLength[i] = pred[i] < 0 ? 1 : chainLength[pred[i]] + 1;
  }
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(finish[i])) continue;
    if (end < 0 || finish[i] > finish[end] ||
      (finish[i] === finish[end] && (chainStart[i] < chainStart[end] ||
        (chainStart[i] === chainStart[end] && chainLength[i] > chainLength[end])))) {
      end = i;
    }
  }
  const path = [];
  for (let i = end; i >= 0; i = pred[i]) path.push(tasks[i].id);
  return path.reverse();
}

/** The latest started_at or completed_at of tasks (ms), -Infinity without any. */
function latestTime(tasks) {
  let latest = -Infinity;
  for (const t of tasks) {
    if (t.completed_at) latest = Math.max(latest, parseTime(t, 'completed_at'));
    if (t.started_at) latest = Math.max(latest, parseTime(t, 'started_at'));
  }
  return latest;
}

function finishTime(task, nowMs) {
  if (task.status === 'in_progress') return nowMs;
  if (task.status === 'pending' || !task.completed_at) return NaN;
  return parseTime(task, 'completed_at');
}

/** The dependency that finished last, not after `before`; -1 when none did. */
function lastBefore(dep, i, before, finish, chainStart) {
  let best = -1;
  for (let j = dep.start[i]; j < dep.start[i + 1]; j++) {
    const index = dep.items[j];
    const f = finish[index];
    if (Number.isNaN(f) || f > before) continue;
    if (best < 0 || f > finish[best] || (f === finish[best] && chainStart[index] < chainStart[best])) best = index;
  }
  return best;
}

function parseTime(task, field) {
  const ms = Date.parse(task[field]);
  if (Number.isNaN(ms)) throw new TypeError(`task ${task.id}: field ${field} is not an ISO-8601 time: ${task[field]}`);
  return ms;
}

// ---------------------------------------------------------------------------------------
// graph rendering

/**
 * Draws a layout into `container` (its children are replaced) as one `<svg class="graph">`
 * sized to the layout (viewBox and width/height), for a scrollable container.
 *
 * Structure and classes (styled by the page's CSS; only marker fill and edge stroke have
 * overridable presentation defaults):
 * - `<g class="edges">` of `<path class="edge required|optional [critical]">` with an
 *   arrowhead marker (`<path class="arrowhead [critical]">`).
 * - `<g class="nodes">` of `<g class="task" data-id tabindex="0" role="button" aria-label>`
 *   (groups: `<g class="task group-node">`), each with a `<title>` (full name), a
 *   `<rect class="node status-<status> [critical]">` (groups: `node group [critical]`),
 *   `<text class="name">`, `<text class="method">` and, for in_progress tasks,
 *   `<rect class="progress-track">` + `<rect class="progress-bar">`; groups have a stacked
 *   bar of `<rect class="segment status-<status>">` instead.
 * - aria-label: "fetch, in_progress, 40%" (the percentage for in_progress only); a group:
 *   "group of 10000 tasks under root: 9000 completed, 1000 pending; activate to expand".
 *
 * Click, Enter and Space on a node call onSelect(task id); on a group onToggleGroup(parent
 * id). A node with children has `aria-expanded` and a `<g class="toggle">` ("−" or "+",
 * aria-hidden) in its top right corner: a click on it, or the key "-" (expanded) or "+"
 * (collapsed; also on a group) calls onToggleGroup(its id). The page keeps the
 * `expanded`/`collapsed` sets for layout and lays out again.
 *
 * `critical` holds the ids of the critical path *in path order* (use
 * `new Set(criticalPath(tasks))`): its tasks' nodes (or their group) get `critical`, and so
 * does an edge joining two consecutive ones. Names and methods are set with textContent.
 *
 * Large graphs are virtualised: above 500 nodes only the nodes within the container's
 * visible area (plus a margin of 600 units; `container` must then be the scrolling element)
 * and the edges between them exist in the DOM; scrolling and resizing draw the others. The
 * area assumes the SVG is drawn at its own size, scaled as a whole if the page zooms it.
 *
 * Returns `{update(task)}`: applies a (possibly partial: id plus changed fields) task to
 * its node in place (status class, aria-label, progress bar, name) without re-layout, or
 * to the counts of its group; a node not in the DOM gets the change when drawn. Returns
 * false when the task is not in this graph. Throws a TypeError for a status outside
 * STATUSES.
 *
 * @param {Element} container
 * @param {ReturnType<typeof layout>} lay
 * @param {{onSelect?: (id: string) => void, critical?: Iterable<string>, onToggleGroup?: (parentId: string) => void}} [options]
 * @returns {{update: (task: object) => boolean}}
 */
export function renderGraph(container, lay, options = {}) {
  const { onSelect, critical = new Set(), onToggleGroup } = checkOptions('renderGraph', options, ['onSelect', 'critical', 'onToggleGroup']);
  const doc = container.ownerDocument;
  const marker = `apflow-arrow-${Math.random().toString(36).slice(2, 10)}`;
  const svg = svgEl(doc, 'svg', {
    class: 'graph', viewBox: `0 0 ${lay.width} ${lay.height}`, width: lay.width, height: lay.height,
    role: 'group', 'aria-label': 'task graph',
  });
  const edgeLayer = svgEl(doc, 'g', { class: 'edges' });
  const nodeLayer = svgEl(doc, 'g', { class: 'nodes' });
  svg.append(markerDefs(doc, marker), edgeLayer, nodeLayer);

  const models = graphModels(lay, critical);
  const byElement = new Map();
  const show = (model) => {
    if (!model.els) {
      if (model.group) groupView(doc, model);
      else taskView(doc, model);
      byElement.set(model.els.g, model);
    }
    return model.els.g;
  };
  const draw = graphDrawer({ container, svg, lay, models, nodeLayer, edgeLayer, show, edge: (e) => edgePath(doc, e, models, marker) });

  /** The model of the node holding target, and whether target is in its toggle. */
  const hit = (target) => {
    let toggle = false;
    let el = target;
    for (; el && el !== svg && !byElement.has(el); el = el.parentNode) {
      if (el.getAttribute?.('class') === 'toggle') toggle = true;
    }
    return { model: byElement.get(el), toggle };
  };
  const toggleOf = (model) => (model.group ? model.node.parentId : model.node.children > 0 ? model.node.id : null);
  const act = (model, toggle) => {
    if (toggle || model.group) {
      const id = toggleOf(model);
      if (id === null) return false;
      onToggleGroup?.(id);
    } else {
      onSelect?.(model.node.id);
    }
    return true;
  };
  svg.addEventListener('click', (ev) => {
    const { model, toggle } = hit(ev.target);
    if (model) act(model, toggle);
  });
  svg.addEventListener('keydown', (ev) => {
    const { model } = hit(ev.target);
    if (!model) return;
    const wantsToggle = ev.key === '+' || ev.key === '-';
    const collapsed = model.group || model.node.collapsed;
    if (wantsToggle && collapsed !== (ev.key === '+')) return;
    if ((wantsToggle || ev.key === 'Enter' || ev.key === ' ') && act(model, wantsToggle)) ev.preventDefault();
  });
  container.replaceChildren(svg);
  draw();
  if (lay.nodes.length > VIRTUAL_ABOVE) {
    const win = doc.defaultView;
    let pending = false;
    const schedule = () => {
      if (typeof win?.requestAnimationFrame !== 'function') return draw();
      if (pending) return undefined;
      pending = true;
      return win.requestAnimationFrame(() => { pending = false; draw(); });
    };
    container.addEventListener('scroll', schedule, { passive: true });
    if (typeof win?.ResizeObserver === 'function') new win.ResizeObserver(schedule).observe(container);
  }

  return {
    update(task) {
      const model = models.byId.get(task?.id);
      if (model && !model.group) {
        const merged = { ...model.task, ...task };
        statusOf(merged);
        model.task = merged;
        if (model.els) applyTask(doc, model);
        return true;
      }
      const member = models.members.get(task?.id);
      if (!member) return false;
      const next = task.status === undefined ? member.status : statusOf(task);
      if (next !== member.status) {
        member.group.counts[member.status]--;
        member.group.counts[next]++;
        member.status = next;
        if (member.group.els) applyGroup(doc, member.group);
      }
      return true;
    },
  };
}

const VIRTUAL_ABOVE = 500;
const VIRTUAL_MARGIN = 600;

/**
 * The state behind every node, views made on demand: byId (node id → model: {node, group,
 * critical, task | counts, parentName, els}), members (task id inside a group → {group
 * model, status}), edgesOf (node id → edges), critical edge pairs.
 */
function graphModels(lay, critical) {
  const byId = new Map();
  const unitOf = new Map();
  const members = new Map();
  for (const node of lay.nodes) {
    const model = node.group
      ? { node, group: true, counts: { ...node.counts }, total: node.total, parentName: node.parentId, els: null }
      : { node, group: false, task: node.task, els: null };
    byId.set(node.id, model);
    if (!node.group) unitOf.set(node.id, node.id);
    else for (const t of node.members) { unitOf.set(t.id, node.id); members.set(t.id, { group: model, status: statusOf(t) }); }
  }
  for (const model of byId.values()) {
    if (model.group) model.parentName = String(byId.get(model.node.parentId)?.task?.name ?? model.node.parentId);
  }
  const crit = criticalUnits(critical, unitOf);
  for (const [id, model] of byId) model.critical = crit.nodes.has(id);
  const edgesOf = new Map();
  for (const edge of lay.edges) {
    for (const end of [edge.from, edge.to]) {
      const list = edgesOf.get(end);
      if (list) list.push(edge);
      else edgesOf.set(end, [edge]);
    }
  }
  return { byId, members, edgesOf, criticalPairs: crit.pairs };
}

/**
 * Returns draw(): puts into the DOM the nodes in the wanted area (all of them for a small
 * graph) in layout order, and the edges whose ends are both there; removes the others.
 * Nodes staying in the DOM are never moved (a focused node keeps its focus).
 */
function graphDrawer({ container, svg, lay, models, nodeLayer, edgeLayer, show, edge }) {
  const columns = columnIndex(lay.nodes);
  const shownNodes = new Map();
  const shownEdges = new Map();
  return () => {
    const wanted = lay.nodes.length > VIRTUAL_ABOVE ? nodesIn(columns, visibleArea(container, svg, lay)) : lay.nodes;
    const wantedIds = new Set(wanted.map((n) => n.id));
    for (const [id, g] of shownNodes) if (!wantedIds.has(id)) { g.remove(); shownNodes.delete(id); }
    let next = null;
    for (let k = wanted.length - 1; k >= 0; k--) {
      const id = wanted[k].id;
      const g = shownNodes.get(id);
      if (g) { next = g; continue; }
      const el = show(models.byId.get(id));
      nodeLayer.insertBefore(el, next);
      shownNodes.set(id, el);
      next = el;
    }
    const wantedEdges = new Set();
    for (const id of wantedIds) {
      for (const e of models.edgesOf.get(id) ?? []) if (wantedIds.has(e.from) && wantedIds.has(e.to)) wantedEdges.add(e);
    }
    for (const [e, path] of shownEdges) if (!wantedEdges.has(e)) { path.remove(); shownEdges.delete(e); }
    for (const e of wantedEdges) {
      if (shownEdges.has(e)) continue;
      const path = edge(e);
      edgeLayer.append(path);
      shownEdges.set(e, path);
    }
  };
}

/** Nodes grouped by column (layout order: by x, then y). */
function columnIndex(nodes) {
  const columns = [];
  for (const node of nodes) {
    const last = columns[columns.length - 1];
    if (last && last.x === node.x) last.nodes.push(node);
    else columns.push({ x: node.x, w: node.w, nodes: [node] });
  }
  return columns;
}

/** The layout area shown by the scrolling container, with a margin, in layout units. */
function visibleArea(container, svg, lay) {
  const rect = typeof svg.getBoundingClientRect === 'function' ? svg.getBoundingClientRect() : null;
  const scale = rect && rect.width > 0 ? rect.width / lay.width : 1;
  const left = (container.scrollLeft || 0) / scale;
  const top = (container.scrollTop || 0) / scale;
  const width = (container.clientWidth || 1600) / scale;
  const height = (container.clientHeight || 1200) / scale;
  return { left: left - VIRTUAL_MARGIN, top: top - VIRTUAL_MARGIN, right: left + width + VIRTUAL_MARGIN, bottom: top + height + VIRTUAL_MARGIN };
}

/** The nodes intersecting area, in layout order; binary search within each column. */
function nodesIn(columns, area) {
  const out = [];
  for (const col of columns) {
    if (col.x > area.right || col.x + col.w < area.left) continue;
    const { nodes } = col;
    let lo = 0;
    let hi = nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nodes[mid].y + nodes[mid].h < area.top) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < nodes.length && nodes[k].y <= area.bottom; k++) out.push(nodes[k]);
  }
  return out;
}

/** Critical node ids (a group when it holds a critical task) and consecutive pairs. */
function criticalUnits(critical, unitOf) {
  const nodes = new Set();
  const pairs = new Set();
  let prev;
  for (const id of critical) {
    const unit = unitOf.get(id);
    if (unit === undefined) { prev = undefined; continue; }
    nodes.add(unit);
    if (prev !== undefined && prev !== unit) pairs.add(`${prev}\n${unit}`);
    prev = unit;
  }
  return { nodes, pairs };
}

function markerDefs(doc, id) {
  const defs = svgEl(doc, 'defs');
  for (const [suffix, cls, fill] of [['', 'arrowhead', '#888'], ['-critical', 'arrowhead critical', '#c0392b']]) {
    const m = svgEl(doc, 'marker', {
      id: id + suffix, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 9, markerHeight: 9,
      orient: 'auto-start-reverse', markerUnits: 'userSpaceOnUse',
    });
    m.append(svgEl(doc, 'path', { d: 'M0,0 L10,5 L0,10 z', class: cls, fill }));
    defs.append(m);
  }
  return defs;
}

function edgePath(doc, edge, models, marker) {
  const a = models.byId.get(edge.from).node;
  const b = models.byId.get(edge.to).node;
  const x1 = a.x + a.w;
  const y1 = a.y + a.h / 2;
  const x2 = b.x;
  const y2 = b.y + b.h / 2;
  const bend = Math.max(24, Math.abs(x2 - x1) / 2);
  const critical = models.criticalPairs.has(`${edge.from}\n${edge.to}`);
  const cls = `edge ${edge.required ? 'required' : 'optional'}${critical ? ' critical' : ''}`;
  return svgEl(doc, 'path', {
    class: cls, d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
    fill: 'none', stroke: critical ? '#c0392b' : '#888', 'marker-end': `url(#${marker}${critical ? '-critical' : ''})`,
  });
}

/** Creates model.els for a task node and fills them. */
function taskView(doc, model) {
  const { node } = model;
  const g = svgEl(doc, 'g', { class: 'task', transform: `translate(${node.x},${node.y})`, tabindex: 0, role: 'button', 'data-id': node.id });
  model.els = {
    g,
    title: svgEl(doc, 'title'),
    rect: svgEl(doc, 'rect', { width: node.w, height: node.h, rx: 6 }),
    name: svgEl(doc, 'text', { class: 'name', x: 8, y: 18 }),
    method: svgEl(doc, 'text', { class: 'method', x: 8, y: 33 }),
    bar: null,
  };
  g.append(model.els.title, model.els.rect, model.els.name, model.els.method);
  if (node.children > 0) {
    g.setAttribute('aria-expanded', String(!node.collapsed));
    const toggle = svgEl(doc, 'g', { class: 'toggle', 'aria-hidden': 'true', transform: `translate(${node.w - 20},4)` });
    const sign = svgEl(doc, 'text', { x: 8, y: 12, 'text-anchor': 'middle' });
    sign.textContent = node.collapsed ? '+' : '−';
    toggle.append(svgEl(doc, 'rect', { width: 16, height: 16, rx: 3, fill: '#fff', stroke: '#888' }), sign);
    g.append(toggle);
  }
  applyTask(doc, model);
}

/** Writes a task's status, texts, label and progress bar into its node. */
function applyTask(doc, model) {
  const { task, els, node } = model;
  const status = statusOf(task);
  const name = String(task.name ?? task.id);
  els.rect.setAttribute('class', `node status-${status}${model.critical ? ' critical' : ''}`);
  els.title.textContent = `${name} (${status.replace('_', ' ')})`;
  els.name.textContent = clip(name, 26);
  // The status is written, not only coloured: first on the second line.
  els.method.textContent = clip(`${status.replace('_', ' ')} · ${methodOf(task)}`, 30);
  els.g.setAttribute('aria-label', taskLabel(name, status, task.progress));
  if (status !== 'in_progress') {
    els.bar?.track.remove();
    els.bar?.fill.remove();
    els.bar = null;
    return;
  }
  if (!els.bar) {
    const geometry = { x: 8, y: node.h - 9, height: 4 };
    els.bar = {
      track: svgEl(doc, 'rect', { ...geometry, class: 'progress-track', width: node.w - 16 }),
      fill: svgEl(doc, 'rect', { ...geometry, class: 'progress-bar', width: 0 }),
    };
    els.g.append(els.bar.track, els.bar.fill);
  }
  els.bar.fill.setAttribute('width', (node.w - 16) * progressOf(task));
}

function taskLabel(name, status, progress) {
  const pct = status === 'in_progress' ? `, ${Math.round(progressOf({ progress }) * 100)}%` : '';
  return `${name}, ${status}${pct}`;
}

/** Creates model.els for a group node and fills them. */
function groupView(doc, model) {
  const { node } = model;
  const g = svgEl(doc, 'g', { class: 'task group-node', transform: `translate(${node.x},${node.y})`, tabindex: 0, role: 'button', 'data-id': node.id });
  model.els = {
    g,
    title: svgEl(doc, 'title'),
    rect: svgEl(doc, 'rect', { width: node.w, height: node.h, rx: 6, class: `node group${model.critical ? ' critical' : ''}` }),
    name: svgEl(doc, 'text', { class: 'name', x: 8, y: 18 }),
    method: svgEl(doc, 'text', { class: 'method', x: 8, y: 33 }),
    segments: new Map(),
  };
  g.append(model.els.title, model.els.rect, model.els.name, model.els.method);
  for (const status of STATUSES) addSegment(doc, model, status);
  applyGroup(doc, model);
}

function addSegment(doc, model, status) {
  const seg = svgEl(doc, 'rect', { class: `segment status-${status}`, y: model.node.h - 9, height: 4 });
  model.els.segments.set(status, seg);
  model.els.g.append(seg);
}

/** Writes a group's counts into its texts, label and stacked bar. */
function applyGroup(doc, model) {
  const { els, node, total, parentName } = model;
  const summary = STATUSES.filter((s) => model.counts[s] > 0).map((s) => `${model.counts[s]} ${s}`).join(', ');
  els.name.textContent = clip(`${total} tasks`, 26);
  els.method.textContent = clip(summary, 30);
  els.title.textContent = `${parentName}: ${summary}`;
  els.g.setAttribute('aria-label', `group of ${total} tasks under ${parentName}: ${summary}; activate to expand`);
  let x = 8;
  const span = node.w - 16;
  for (const status of STATUSES) {
    const w = total > 0 ? (span * model.counts[status]) / total : 0;
    const seg = els.segments.get(status);
    seg.setAttribute('x', x);
    seg.setAttribute('width', w);
    x += w;
  }
}

// ---------------------------------------------------------------------------------------
// gantt

const NAME_WIDTH = 200;
const OVERSCAN = 10;
const NICE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3,
  300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3];

/**
 * Draws a timeline of `tasks` into `container` (children replaced): one row per task, the
 * rows ordered by started_at (never started last), then name.
 *
 * The time axis runs from the tree's start (the earliest started_at; the earliest
 * created_at when nothing started) to the latest completed_at (or `now` while a task runs),
 * with ticks at round durations labelled relative to the start ("0", "30s", "1m30s") and
 * the start time in UTC. A row's bar has a light waiting part (`gantt-wait`) from
 * created_at (not before the axis start) to started_at (to completed_at for a task that
 * ended without starting, to the end of the axis for a pending one) and a solid ran part
 * (`gantt-ran`) from started_at to completed_at, or `now` while in_progress. `now` is taken
 * as at least the latest started_at/completed_at, so a browser clock behind the server's
 * draws no negative bar.
 *
 * Structure and classes: `div.gantt` (the scroll container: overflow auto, height
 * `var(--gantt-height, 60vh)`) > `div.gantt-axis` (sticky; `span.gantt-start`,
 * `div.gantt-ticks` > `span.gantt-tick`) and `div.gantt-body` (full height, the spacer) >
 * `div.gantt-row status-<status> [critical]` (tabindex 0, role button, aria-label) >
 * `span.gantt-name`, `div.gantt-track` > `div.gantt-wait`, `div.gantt-ran`. Positions are
 * inline styles (percentages of the track); colours are the page's CSS.
 *
 * Virtualised: only the rows in view plus a margin of 10 each side exist in the DOM;
 * scrolling (and a resize, where ResizeObserver exists) draws the others. Enter or Space
 * on a row calls onSelect(id); ArrowUp/ArrowDown move the focus between rows.
 *
 * Returns `{update(task, now = Date.now())}`: merges a (possibly partial) task into its row
 * (status, bar; the axis grows when the task ends after it) without reordering; returns
 * false for a task not in the timeline.
 *
 * @param {Element} container
 * @param {object[]} tasks
 * @param {{critical?: Iterable<string>, onSelect?: (id: string) => void, rowHeight?: number, now?: number}} [options]
 * @returns {{update: (task: object, now?: number) => boolean}}
 */
export function renderGantt(container, tasks, options = {}) {
  const { critical = new Set(), onSelect, rowHeight = 22, now = Date.now() } =
    checkOptions('renderGantt', options, ['critical', 'onSelect', 'rowHeight', 'now']);
  if (typeof rowHeight !== 'number' || !(rowHeight > 0)) throw new TypeError('renderGantt: option rowHeight must be a number > 0');
  const doc = container.ownerDocument;
  const state = { now: Math.max(timeOption('renderGantt', now), latestTime(tasks)), range: null };
  const rows = orderRows(tasks);
  const indexOf = new Map(rows.map((t, i) => [t.id, i]));
  const crit = new Set(critical);
  state.range = timeRange(rows, state.now);
  let running = rows.filter((t) => t.status === 'in_progress').length;

  const scroller = htmlEl(doc, 'div', { class: 'gantt' });
  Object.assign(scroller.style, { overflow: 'auto', position: 'relative', height: 'var(--gantt-height, 60vh)' });
  const axis = htmlEl(doc, 'div', { class: 'gantt-axis' });
  Object.assign(axis.style, { position: 'sticky', top: '0', zIndex: '1', height: `${rowHeight}px` });
  const body = htmlEl(doc, 'div', { class: 'gantt-body' });
  Object.assign(body.style, { position: 'relative', height: `${rows.length * rowHeight}px` });
  scroller.append(axis, body);

  const rendered = new Map();
  const rowEl = (i) => {
    const el = htmlEl(doc, 'div', { tabindex: 0, role: 'button', 'data-id': rows[i].id });
    Object.assign(el.style, { position: 'absolute', left: '0', right: '0', top: `${i * rowHeight}px`, height: `${rowHeight}px` });
    const name = htmlEl(doc, 'span', { class: 'gantt-name' });
    Object.assign(name.style, { position: 'absolute', left: '0', width: `${NAME_WIDTH - 8}px`, overflow: 'hidden', whiteSpace: 'nowrap', textOverflow: 'ellipsis' });
    const track = htmlEl(doc, 'div', { class: 'gantt-track' });
    Object.assign(track.style, { position: 'absolute', left: `${NAME_WIDTH}px`, right: '0', top: '3px', bottom: '3px' });
    const wait = htmlEl(doc, 'div', { class: 'gantt-wait' });
    const ran = htmlEl(doc, 'div', { class: 'gantt-ran' });
    for (const part of [wait, ran]) Object.assign(part.style, { position: 'absolute', top: '0', bottom: '0' });
    track.append(wait, ran);
    el.append(name, track);
    const view = { el, name, wait, ran, index: i };
    fillRow(view, rows[i], crit.has(rows[i].id), state);
    el.addEventListener('keydown', (ev) => onRowKey(ev, i));
    el.addEventListener('click', () => onSelect?.(rows[i].id));
    return view;
  };

  const draw = () => {
    const top = (scroller.scrollTop ?? 0) - rowHeight;
    const height = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / rowHeight) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((top + height) / rowHeight) + OVERSCAN);
    for (const [i, view] of rendered) {
      if (i < first || i >= last) { view.el.remove(); rendered.delete(i); }
    }
    let anchor = null;
    for (const [i, view] of rendered) if (anchor === null || i < anchor.index) anchor = view;
    for (let i = first; i < last; i++) {
      if (rendered.has(i)) continue;
      const view = rowEl(i);
      rendered.set(i, view);
      if (anchor !== null && i < anchor.index) body.insertBefore(view.el, anchor.el);
      else body.append(view.el);
    }
  };

  const focusRow = (i) => {
    if (i < 0 || i >= rows.length) return;
    const top = i * rowHeight;
    const viewTop = (scroller.scrollTop ?? 0);
    const height = scroller.clientHeight || 600;
    if (top < viewTop) scroller.scrollTop = top;
    else if (top + 2 * rowHeight > viewTop + height) scroller.scrollTop = top + 2 * rowHeight - height;
    draw();
    rendered.get(i)?.el.focus();
  };
  const onRowKey = (ev, i) => {
    if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onSelect?.(rows[i].id); }
    else if (ev.key === 'ArrowDown') { ev.preventDefault(); focusRow(i + 1); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); focusRow(i - 1); }
  };

  const drawAxis = () => axis.replaceChildren(...axisChildren(doc, state.range));
  drawAxis();
  scroller.addEventListener('scroll', draw, { passive: true });
  const Observer = doc.defaultView?.ResizeObserver;
  if (typeof Observer === 'function') new Observer(draw).observe(scroller);
  container.replaceChildren(scroller);
  draw();

  return {
    update(task, at = Date.now()) {
      const i = indexOf.get(task?.id);
      if (i === undefined) return false;
      const merged = { ...rows[i], ...task };
      statusOf(merged);
      const wasRunning = Number(rows[i].status === 'in_progress');
      rows[i] = merged;
      state.now = Math.max(state.now, timeOption('update', at), latestTime([rows[i]]));
      running += (rows[i].status === 'in_progress') - wasRunning;
      const range = grownRange(state.range, rows[i], running > 0 ? state.now : -Infinity);
      if (range !== state.range) {
        state.range = range;
        drawAxis();
        for (const [j, view] of rendered) fillRow(view, rows[j], crit.has(rows[j].id), state);
      } else if (rendered.has(i)) {
        fillRow(rendered.get(i), rows[i], crit.has(rows[i].id), state);
      }
      return true;
    },
  };
}

/** A new array of the tasks by started_at (never started last), then natural name, then id. */
function orderRows(tasks) {
  const started = Float64Array.from(tasks, (t) => (t.started_at ? parseTime(t, 'started_at') : Infinity));
  const names = Array.from(tasks, (t) => String(t.name ?? ''));
  const order = Array.from(tasks, (_, i) => i).sort((a, b) => (started[a] === started[b] ? 0 : started[a] < started[b] ? -1 : 1) ||
    naturalCompare(names[a], names[b]) || compareStrings(tasks[a].id, tasks[b].id));
  return order.map((i) => tasks[i]);
}

/** {start, end} of the axis in ms; end > start. */
function timeRange(tasks, nowMs) {
  let started = Infinity;
  let created = Infinity;
  let end = -Infinity;
  for (const t of tasks) {
    if (t.started_at) started = Math.min(started, parseTime(t, 'started_at'));
    if (t.created_at) created = Math.min(created, parseTime(t, 'created_at'));
    if (t.status === 'in_progress') end = Math.max(end, nowMs);
    else if (t.completed_at && t.status !== 'pending') end = Math.max(end, parseTime(t, 'completed_at'));
  }
  const start = Number.isFinite(started) ? started : Number.isFinite(created) ? created : nowMs;
  if (!Number.isFinite(end)) end = Number.isFinite(started) ? nowMs : start;
  return { start, end: Math.max(end, start + 1) };
}

/**
 * The axis range extended to a task's start and end and to `runningUntil` (now while a
 * task runs); the same object when nothing changes. A task that never started does not
 * move the start (its created_at only matters before the first start).
 */
function grownRange(range, task, runningUntil) {
  const started = task.started_at ? parseTime(task, 'started_at') : Infinity;
  const ended = task.status !== 'pending' && task.status !== 'in_progress' && task.completed_at ? parseTime(task, 'completed_at') : -Infinity;
  const start = Math.min(range.start, started);
  const end = Math.max(range.end, ended, runningUntil);
  return start === range.start && end === range.end ? range : { start, end };
}

/** Writes a task's classes, label, name and bar parts into a row view. */
function fillRow(view, task, critical, state) {
  const status = statusOf(task);
  const { start, end } = state.range;
  const span = end - start;
  const pct = (ms) => percent((Math.min(Math.max(ms, start), end) - start) / span);
  view.el.setAttribute('class', `gantt-row status-${status}${critical ? ' critical' : ''}`);
  const name = String(task.name ?? task.id);
  view.name.textContent = `${name} · ${status.replace('_', ' ')}`;
  const t = rowTimes(task, state);
  setPart(view.wait, t.waitFrom, t.waitTo, pct);
  setPart(view.ran, t.ranFrom, t.ranTo, pct);
  const ran = Number.isNaN(t.ranFrom) ? '' : `, ran ${formatDuration(t.ranTo - t.ranFrom)}`;
  view.el.setAttribute('aria-label', taskLabel(name, status, task.progress) + ran);
}

function setPart(el, from, to, pct) {
  if (Number.isNaN(from) || Number.isNaN(to) || to < from) {
    el.style.display = 'none';
    return;
  }
  el.style.display = '';
  el.style.left = pct(from);
  el.style.width = `calc(${pct(to)} - ${pct(from)})`;
}

/** The waiting and ran intervals of a task (NaN where there is none). */
function rowTimes(task, state) {
  const { start, end } = state.range;
  const created = task.created_at ? Math.max(parseTime(task, 'created_at'), start) : start;
  const started = task.started_at ? parseTime(task, 'started_at') : NaN;
  const status = statusOf(task);
  const finished = status === 'in_progress' ? state.now
    : status !== 'pending' && task.completed_at ? parseTime(task, 'completed_at') : NaN;
  if (!Number.isNaN(started)) {
    return { waitFrom: Math.min(created, started), waitTo: started, ranFrom: started, ranTo: Number.isNaN(finished) ? started : finished };
  }
  return { waitFrom: created, waitTo: Number.isNaN(finished) ? end : finished, ranFrom: NaN, ranTo: NaN };
}

function axisChildren(doc, range) {
  const label = htmlEl(doc, 'span', { class: 'gantt-start' });
  Object.assign(label.style, { position: 'absolute', left: '0', width: `${NAME_WIDTH - 8}px` });
  label.textContent = `${new Date(range.start).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  const ticks = htmlEl(doc, 'div', { class: 'gantt-ticks' });
  Object.assign(ticks.style, { position: 'absolute', left: `${NAME_WIDTH}px`, right: '0', top: '0', bottom: '0' });
  for (const ms of tickOffsets(range.end - range.start)) {
    const tick = htmlEl(doc, 'span', { class: 'gantt-tick' });
    Object.assign(tick.style, { position: 'absolute', left: percent(ms / (range.end - range.start)) });
    tick.textContent = ms === 0 ? '0' : formatDuration(ms);
    ticks.append(tick);
  }
  return [label, ticks];
}

/**
 * Tick offsets (ms from the start) at a round step giving at most 8 intervals over span.
 * @param {number} span
 * @returns {number[]}
 */
export function tickOffsets(span) {
  const step = NICE_STEPS.find((s) => span / s <= 8) ?? Math.ceil(span / 8 / 86400e3) * 86400e3;
  const out = [];
  for (let ms = 0; ms <= span; ms += step) out.push(ms);
  return out;
}

/**
 * A duration as a short readable text: "250ms", "1.5s", "45s", "1m30s", "2h5m", "3d4h".
 * @param {number} ms
 * @returns {string}
 */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10e3) return `${Math.round(ms / 100) / 10}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const parts = [[Math.floor(s / 86400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'm'], [s % 60, 's']];
  const first = parts.findIndex(([v]) => v > 0);
  return parts.slice(first, first + 2).filter(([v]) => v > 0).map(([v, u]) => `${v}${u}`).join('');
}

// ---------------------------------------------------------------------------------------
// small helpers

/** Returns options after checking it is an object with only the allowed keys. */
function checkOptions(fn, options, allowed) {
  if (!isObject(options)) throw new TypeError(`${fn}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new TypeError(`${fn}: unknown option ${key} (known: ${allowed.join(', ')})`);
  }
  return options;
}

/** A time in ms since the epoch from a number or a Date. */
function timeOption(fn, value) {
  const ms = Number(value);
  if (!Number.isFinite(ms)) throw new TypeError(`${fn}: now must be a time in ms since the epoch or a Date`);
  return ms;
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The task's status, checked against STATUSES (a class name is built from it). */
function statusOf(task) {
  const status = task.status ?? 'pending';
  if (!STATUSES.includes(status)) throw new TypeError(`task ${task.id}: field status is not one of ${STATUSES.join(', ')}: ${status}`);
  return status;
}

function progressOf(task) {
  const p = Number(task.progress);
  return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0;
}

/** The executor of a task: params.executor_id, else schemas.method (the host's rule). */
export function methodOf(task) {
  return String(task.params?.executor_id ?? task.schemas?.method ?? '');
}

/** A fraction as a CSS percentage, rounded to 1/10000 of a percent. */
function percent(fraction) {
  return `${Math.round(fraction * 1e6) / 1e4}%`;
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function svgEl(doc, tag, attrs = {}) {
  const el = doc.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function htmlEl(doc, tag, attrs = {}) {
  const el = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}
