// Runs: the trees (root tasks), newest first, filtered, searched and paged by the API
// (tasks.list and tasks.count take the same filters), refreshed every few seconds.
import { rpc, rpcBatch } from "./api.js";
import { h, fill, statusBadge, fmtTime, fmtDuration, runTime } from "./dom.js";
import { STATUSES, methodOf } from "./graph.js";

const pageSize = 50;
const refreshMs = 5000;
// The filters, as they appear in the hash's query and in tasks.list's params.
const filterKeys = { status: "status", user: "user_id", executor: "executor", q: "name", after: "created_after", before: "created_before" };

/** Renders #/runs?status=…&user=…&executor=…&q=…&after=…&before=…&offset=…. */
export async function render(view, _args, live) {
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const state = { offset: Number(query.get("offset")) || 0 };
  for (const k of Object.keys(filterKeys)) state[k] = query.get(k) || "";
  const params = {};
  for (const [k, p] of Object.entries(filterKeys)) {
    if (!state[k] || k === "status") continue;
    if (k !== "after" && k !== "before") params[p] = state[k];
    else if (!isNaN(new Date(state[k]))) params[p] = new Date(state[k]).toISOString(); // local time in the form
  }
  const counts = h("ul", { class: "chips", "aria-label": "Trees per status" });
  const body = h("div", { id: "runs-table" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const stale = h("p", { class: "muted", role: "status" });
  const refresh = async () => {
    const [list, count] = await Promise.all([
      rpc("tasks.list", { ...params, root_only: true, limit: pageSize + 1, offset: state.offset, ...(state.status && { status: state.status }) }),
      rpc("tasks.count", { ...params, root_only: true }),
    ]);
    fill(counts, ...STATUSES.map((s) => h("li", {}, h("a", { href: link({ ...state, status: s, offset: 0 }), "aria-current": s === state.status ? "true" : null }, statusBadge(s), " ", String(count[s] || 0)))), h("li", {}, h("a", { href: link({ ...state, status: "", offset: 0 }) }, "all ", String(count.total || 0))));
    const rows = list.slice(0, pageSize);
    const perTree = rows.length ? await rpcBatch(rows.map((t) => ["tasks.count", { task_tree_id: t.id }])) : [];
    fill(body, table(rows, perTree));
    fill(pager, state.offset > 0 ? h("a", { href: link({ ...state, offset: Math.max(0, state.offset - pageSize) }) }, "← Newer") : null, rows.length ? h("span", { class: "muted" }, ` ${state.offset + 1}–${state.offset + rows.length} `) : null, list.length > pageSize ? h("a", { href: link({ ...state, offset: state.offset + pageSize }) }, "Older →") : null);
  };
  await refresh();
  if (!live()) return null;
  fill(view, h("h1", {}, "Runs"), filters(state), counts, stale, body, pager);
  let stopped = false, timer = 0;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await refresh();
        fill(stale);
      } catch (err) {
        fill(stale, `Could not refresh: ${err.message}`);
      }
    }
    if (!stopped) timer = setTimeout(tick, refreshMs);
  };
  timer = setTimeout(tick, refreshMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** The hash of the runs page with state as its query. */
function link(state) {
  const q = new URLSearchParams();
  for (const k of [...Object.keys(filterKeys), "offset"]) if (state[k]) q.set(k, String(state[k]));
  const s = q.toString();
  return "#/runs" + (s ? "?" + s : "");
}

/** The filter form: status, user, executor, name or id, submitted between two times. */
function filters(state) {
  const field = (id, label, input) => h("span", { class: "field" }, h("label", { for: id }, label), input);
  const status = h("select", { id: "f-status" }, h("option", { value: "" }, "any status"), ...STATUSES.map((s) => h("option", { value: s, selected: s === state.status }, s.replace("_", " "))));
  const q = h("input", { id: "f-q", type: "search", value: state.q, placeholder: "name or id" });
  const user = h("input", { id: "f-user", type: "text", value: state.user, placeholder: "any user" });
  const executor = h("input", { id: "f-executor", type: "text", value: state.executor, placeholder: "any executor" });
  const after = h("input", { id: "f-after", type: "datetime-local", value: state.after });
  const before = h("input", { id: "f-before", type: "datetime-local", value: state.before });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter runs" },
    field("f-q", "Search", q), field("f-status", "Status", status), field("f-user", "User", user), field("f-executor", "Executor", executor),
    field("f-after", "Submitted after", after), field("f-before", "before", before),
    h("button", { type: "submit" }, "Filter"), h("a", { href: "#/runs" }, "Clear"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = link({ q: q.value.trim(), status: status.value, user: user.value.trim(), executor: executor.value.trim(), after: after.value, before: before.value, offset: 0 });
    if (location.hash === next) dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = next;
  });
  return h("div", { class: "toolbar" }, form);
}

/** A tree's tasks per status, as "3 completed · 1 failed · 2 pending" (its total first). */
function treeCounts(c) {
  if (!c || c instanceof Error) return h("span", { class: "muted" }, "–");
  const parts = STATUSES.filter((s) => c[s]).map((s) => h("span", { class: `count status-${s}` }, `${c[s]} ${s.replace("_", " ")}`));
  return h("span", { class: "tree-counts" }, `${c.total} tasks: `, ...parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
}

function table(list, perTree) {
  if (!list.length) return h("p", { class: "muted" }, "No runs match.");
  const rows = list.map((t, i) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: "#/tree/" + encodeURIComponent(t.id) }, t.name || t.id)),
      h("td", {}, statusBadge(t.status), t.status === "in_progress" ? h("progress", { max: "1", value: String(t.progress || 0), "aria-label": "progress" }) : null),
      h("td", {}, treeCounts(perTree[i])),
      h("td", {}, methodOf(t)),
      h("td", {}, t.user_id || "–"),
      h("td", {}, fmtTime(t.created_at)),
      h("td", {}, fmtTime(t.started_at)),
      h("td", {}, fmtTime(t.completed_at)),
      h("td", { class: "num" }, fmtDuration(runTime(t))),
    ),
  );
  const head = ["Tree", "Status", "Tasks", "Executor", "User", "Submitted", "Started", "Ended", "Duration"].map((c) => h("th", { scope: "col" }, c));
  return h("div", { class: "table-wrap" }, h("table", { class: "list" }, h("caption", { class: "sr-only" }, "Runs, newest first"), h("thead", {}, h("tr", {}, ...head)), h("tbody", {}, ...rows)));
}
