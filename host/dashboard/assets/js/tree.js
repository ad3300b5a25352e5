// A tree: its graph (groups, dependency edges) and timeline, the critical path, updated
// live from GET /events while it runs.
import { rpc, follow } from "./api.js";
import { h, fill, statusBadge, fmtDuration, errorBlock, flash } from "./dom.js";
import { flatten, layout, criticalPath, renderGraph, renderGantt } from "./graph.js";
import { rerun } from "./task.js";

const statuses = ["pending", "in_progress", "completed", "failed", "cancelled"];
const idleCheckMs = 3000;

/** Renders #/tree/ID (any task of the tree: the page shows its root's tree). */
export async function render(view, [id]) {
  const first = await rpc("tasks.get", { task_id: id });
  const rootID = first.task_tree_id || first.id;
  const page = { rootID, tasks: new Map(), collapsed: new Set(), expanded: new Set(), mode: "graph", following: null, stopped: false };
  const head = h("div", {});
  const counts = h("ul", { class: "chips", id: "tree-counts", "aria-label": "Tasks per status", "aria-live": "polite" });
  const modeBtn = (mode, label) => h("button", { type: "button", class: "tab", "data-mode": mode, "aria-pressed": String(mode === page.mode), onclick: () => setMode(page, mode) }, label);
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "View" }, modeBtn("graph", "Graph"), modeBtn("timeline", "Timeline"));
  const canvas = h("div", { class: "tree-canvas", id: "tree-canvas" });
  page.els = { head, counts, tabs, canvas };
  fill(view, head, counts, tabs, canvas);
  await load(page);
  watch(page);
  return () => {
    page.stopped = true;
    if (page.following) page.following.abort();
  };
}

/** Loads the whole tree and draws everything. */
async function load(page) {
  const tree = await rpc("tasks.tree", { task_id: page.rootID });
  page.tasks = new Map(flatten(tree).map((t) => [t.id, t]));
  draw(page);
}

function draw(page) {
  const root = page.tasks.get(page.rootID);
  fill(page.els.head, h("p", { class: "crumbs" }, h("a", { href: "#/runs" }, "Runs"), " / tree"), h("h1", {}, root.name || root.id, " ", statusBadge(root.status)), actions(page, root), h("p", { class: "muted" }, `${page.tasks.size} tasks · ran for ${fmtDuration(treeSpan(page.tasks.values()))} · `, h("a", { href: "#/task/" + encodeURIComponent(root.id) }, "root task details")));
  drawCounts(page);
  const tasks = [...page.tasks.values()];
  page.critical = new Set(criticalPath(tasks));
  const onSelect = (id) => (location.hash = "#/task/" + encodeURIComponent(id));
  const canvas = page.els.canvas;
  canvas.replaceChildren();
  if (page.mode === "graph") {
    const lay = layout(tasks, { collapsed: page.collapsed, expanded: page.expanded });
    page.view = renderGraph(canvas, lay, { onSelect, critical: page.critical, onToggleGroup: (pid) => toggleGroup(page, pid) });
  } else {
    page.view = renderGantt(canvas, tasks, { critical: page.critical, onSelect });
  }
  canvas.append(h("p", { class: "legend muted" }, "Solid edges: required dependencies; dashed: optional. Outlined in bold: the critical path (the chain of dependencies that decided when the tree ended)."));
}

/** The tree's run time: from its first task's start to its last task's end (or now). */
function treeSpan(tasks, now = Date.now()) {
  let start = Infinity, end = -Infinity, running = false;
  for (const t of tasks) {
    if (!t.started_at) continue;
    start = Math.min(start, Date.parse(t.started_at));
    if (t.completed_at) end = Math.max(end, Date.parse(t.completed_at));
    else running = true;
  }
  if (start === Infinity) return null;
  return (running ? now : end) - start;
}

function drawCounts(page) {
  const n = Object.fromEntries(statuses.map((s) => [s, 0]));
  for (const t of page.tasks.values()) n[t.status] = (n[t.status] || 0) + 1;
  fill(page.els.counts, ...statuses.map((s) => h("li", { "data-status": s }, statusBadge(s), " ", String(n[s]))));
}

function setMode(page, mode) {
  page.mode = mode;
  for (const b of page.els.tabs.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  draw(page);
}

function toggleGroup(page, parentID) {
  if (page.collapsed.has(parentID)) page.collapsed.delete(parentID), page.expanded.add(parentID);
  else if (page.expanded.has(parentID)) page.expanded.delete(parentID), page.collapsed.add(parentID);
  else page.expanded.add(parentID);
  draw(page);
}

function actions(page, root) {
  const out = h("div", { role: "alert" });
  const bar = h("div", { class: "actions", role: "group", "aria-label": "Tree actions" });
  const run = async (fn) => {
    try {
      await fn();
    } catch (err) {
      fill(out, errorBlock(err));
    }
  };
  if (root.status === "in_progress" || root.status === "pending") {
    bar.append(h("button", { type: "button", id: "cancel-tree", onclick: () => run(async () => {
      const r = await rpc("tasks.cancel", { task_ids: [page.rootID] });
      flash(r.map((a) => `${a.task_id}: ${a.status}`).join("; "));
    }) }, "Cancel tree"));
  }
  if (root.status === "failed" || root.status === "cancelled") bar.append(h("button", { type: "button", onclick: () => rerun(page.rootID) }, "Re-run failed parts"));
  bar.append(h("button", { type: "button", onclick: () => run(async () => {
    const c = await rpc("tasks.clone", { task_id: page.rootID, origin_type: "copy" });
    location.hash = "#/tree/" + encodeURIComponent((Array.isArray(c) ? c[0] : c).id);
  }) }, "Copy tree"));
  return h("div", {}, bar, out);
}

/** Follows the run while it is running; checks every few seconds for a new run. */
function watch(page) {
  const loop = async () => {
    while (!page.stopped) {
      const ctrl = new AbortController();
      page.following = ctrl;
      try {
        await follow(page.rootID, (ev) => onEvent(page, ev), ctrl.signal);
      } catch {
        /* stream refused or cut: reload below */
      }
      if (page.stopped) return;
      await load(page).catch(() => {});
      const root = page.tasks.get(page.rootID);
      if (root && root.status !== "in_progress") await waitForRun(page);
    }
  };
  loop();
}

/** Returns when the tree's root is in progress again (a re-run), or the page is left. */
async function waitForRun(page) {
  while (!page.stopped) {
    await new Promise((r) => setTimeout(r, idleCheckMs));
    if (document.hidden) continue;
    const root = await rpc("tasks.get", { task_id: page.rootID }).catch(() => null);
    if (root && (root.status === "in_progress" || root.updated_at !== page.tasks.get(page.rootID).updated_at)) return;
  }
}

/** Applies one event of the stream to the task it names. */
function onEvent(page, ev) {
  if (!ev.task_id || ev.type === "final" || ev.type === "task_log") return;
  const t = page.tasks.get(ev.task_id);
  if (!t) return;
  if (ev.status) t.status = ev.status;
  if (typeof ev.progress === "number") t.progress = ev.progress;
  if (ev.type === "task_start") t.started_at = ev.timestamp || new Date().toISOString();
  if (ev.type === "task_completed" || ev.type === "task_failed") {
    t.completed_at = ev.timestamp || new Date().toISOString();
    if (ev.error) t.error = ev.error;
  }
  page.view.update(t);
  drawCounts(page);
}
