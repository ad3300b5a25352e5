// A tree: its graph (groups, dependency edges) and timeline, the critical path, updated
// live from GET /events while it runs.
import { rpc, follow, startRun } from "./api.js";
import { h, fill, statusBadge, fmtDuration, errorBlock, flash } from "./dom.js";
import { STATUSES, flatten, layout, criticalPath, renderGraph, renderGantt } from "./graph.js";

const idleCheckMs = 3000;
const maxBackoffMs = 30000;
const terminal = new Set(["completed", "failed", "cancelled"]);
// treeFields are what the graph and the timeline draw: a 10,000-task tree's answer stays
// a fifth of the whole tasks' (no inputs, results, usage).
const treeFields = ["id", "name", "parent_id", "task_tree_id", "status", "priority", "progress", "dependencies", "schemas", "params", "error", "created_at", "updated_at", "started_at", "completed_at"];

/** Renders #/tree/ID (any task of the tree: the page shows its root's tree). */
export async function render(view, [id], live) {
  const first = await rpc("tasks.get", { task_id: id });
  const rootID = first.task_tree_id || first.id;
  const page = { rootID, tasks: new Map(), collapsed: new Set(), expanded: new Set(), mode: "graph", following: null, stopped: false };
  const head = h("div", {});
  const notice = h("p", { class: "muted", role: "status" });
  const counts = h("ul", { class: "chips", id: "tree-counts", "aria-label": "Tasks per status" });
  const modeBtn = (mode, label) => h("button", { type: "button", class: "tab", "data-mode": mode, "aria-pressed": String(mode === page.mode), onclick: () => setMode(page, mode) }, label);
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "View" }, modeBtn("graph", "Graph"), modeBtn("timeline", "Timeline"));
  const slot = h("div", {});
  page.els = { head, notice, counts, tabs, slot };
  await load(page);
  if (!live()) return null;
  fill(view, head, notice, counts, tabs, slot, h("p", { class: "legend muted" }, "Solid edges: required dependencies; dashed: optional. In bold: the critical path (the chain of dependencies that decided when the tree ended)."));
  watch(page);
  return () => {
    page.stopped = true;
    if (page.following) page.following.abort();
  };
}

/** Loads the whole tree and draws everything. */
async function load(page) {
  const tree = await rpc("tasks.tree", { task_id: page.rootID, fields: treeFields });
  page.tasks = new Map(flatten(tree).map((t) => [t.id, t]));
  draw(page);
}

function draw(page) {
  drawHead(page);
  drawCounts(page);
  const tasks = [...page.tasks.values()];
  page.critical = new Set(criticalPath(tasks));
  const onSelect = (id) => (location.hash = "#/task/" + encodeURIComponent(id));
  // A new canvas each time: the old one's scroll and resize listeners go with it.
  const canvas = h("div", { class: "tree-canvas", id: "tree-canvas" });
  fill(page.els.slot, canvas);
  if (page.mode === "graph") {
    page.lay = layout(tasks, { collapsed: page.collapsed, expanded: page.expanded });
    page.view = renderGraph(canvas, page.lay, { onSelect, critical: page.critical, onToggleGroup: (pid) => toggleGroup(page, pid) });
  } else {
    page.view = renderGantt(canvas, tasks, { critical: page.critical, onSelect });
  }
}

function drawHead(page) {
  const root = page.tasks.get(page.rootID);
  fill(page.els.head, h("p", { class: "crumbs" }, h("a", { href: "#/runs" }, "Runs"), " / tree"), h("h1", {}, root.name || root.id, " ", statusBadge(root.status)), actions(page, root), h("p", { class: "muted" }, `${page.tasks.size} tasks · ran for ${fmtDuration(treeSpan(page.tasks.values()))} · `, h("a", { href: "#/task/" + encodeURIComponent(root.id) }, "root task details")));
  page.headStatus = root.status;
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
  const n = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const t of page.tasks.values()) n[t.status] = (n[t.status] || 0) + 1;
  fill(page.els.counts, ...STATUSES.map((s) => h("li", { "data-status": s }, statusBadge(s), " ", String(n[s]))));
}

function setMode(page, mode) {
  page.mode = mode;
  for (const b of page.els.tabs.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  draw(page);
}

/** Expands a collapsed parent (or its group node), collapses an expanded one. */
function toggleGroup(page, parentID) {
  const node = page.lay && page.lay.nodes.find((n) => n.id === parentID);
  const collapsed = node ? node.collapsed : page.collapsed.has(parentID);
  page.collapsed.delete(parentID);
  page.expanded.delete(parentID);
  (collapsed ? page.expanded : page.collapsed).add(parentID);
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
  if (!terminal.has(root.status)) {
    bar.append(h("button", { type: "button", id: "cancel-tree", onclick: () => run(async () => {
      const r = await rpc("tasks.cancel", { task_ids: [page.rootID] });
      flash(r.map((a) => `${a.task_id}: ${a.status}`).join("; "));
    }) }, "Cancel tree"));
  }
  if (root.status === "failed" || root.status === "cancelled") {
    bar.append(h("button", { type: "button", id: "rerun-tree", onclick: () => run(async () => {
      await startRun({ task_id: page.rootID });
      flash(`Re-running ${page.rootID}`);
      if (page.wake) page.wake();
    }) }, "Re-run failed parts"));
  }
  bar.append(h("button", { type: "button", onclick: () => run(async () => {
    const c = await rpc("tasks.clone", { task_id: page.rootID, origin_type: "copy" });
    location.hash = "#/tree/" + encodeURIComponent((Array.isArray(c) ? c[0] : c).id);
  }) }, "Copy tree"));
  return h("div", {}, bar, out);
}

/**
 * Follows the tree while it runs: the stream is opened first and the tree loaded once it
 * is open, so that no event falls between the two (events that come before the load are
 * applied after it). Between runs, tasks.running.status is asked every few seconds; a
 * stream that fails is retried with a growing delay.
 */
function watch(page) {
  const loop = async () => {
    let backoff = 1000;
    while (!page.stopped) {
      await waitForRun(page);
      if (page.stopped) return;
      const ctrl = new AbortController();
      page.following = ctrl;
      const early = [];
      let loaded = false;
      try {
        await follow(page.rootID, (ev) => {
          if (loaded) onEvent(page, ev);
          else early.push(ev);
        }, ctrl.signal, () => {
          load(page).then(() => {
            loaded = true;
            for (const ev of early) onEvent(page, ev);
          }).catch(() => {});
        });
        fill(page.els.notice);
        backoff = 1000;
      } catch {
        if (page.stopped) return;
        fill(page.els.notice, "Lost the connection to the server; retrying…");
        await sleep(backoff);
        backoff = Math.min(backoff * 2, maxBackoffMs);
        continue;
      }
      if (!page.stopped) await load(page).catch(() => {});
    }
  };
  loop();
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Returns once a run of the tree is in progress (at once if it is), or the page is left. */
async function waitForRun(page) {
  while (!page.stopped) {
    if (!document.hidden) {
      const st = await rpc("tasks.running.status", { task_ids: [page.rootID] }).catch(() => null);
      if (st && st.some((x) => x.is_running)) return;
    }
    await new Promise((r) => {
      page.wake = r;
      setTimeout(r, idleCheckMs);
    });
  }
}

/** Applies one event of the stream to the task it names. */
function onEvent(page, ev) {
  if (!ev.task_id || ev.type === "final" || ev.type === "task_log" || ev.type === "stream_end") return;
  const t = page.tasks.get(ev.task_id);
  if (!t) return;
  if (ev.type === "task_start") {
    Object.assign(t, { started_at: ev.timestamp || new Date().toISOString(), completed_at: null, error: null, progress: 0 });
  }
  if (ev.status) t.status = ev.status;
  if (typeof ev.progress === "number") t.progress = ev.progress;
  if (ev.type === "task_completed" || ev.type === "task_failed") {
    t.completed_at = ev.timestamp || new Date().toISOString();
    if (ev.error) t.error = ev.error;
  }
  page.view.update(t);
  drawCounts(page);
  if (t.id === page.rootID && t.status !== page.headStatus) drawHead(page);
}
