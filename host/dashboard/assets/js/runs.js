// Runs: the trees (root tasks), newest first, filtered and paged by the API, refreshed
// every few seconds.
import { rpc, RpcError } from "./api.js";
import { h, fill, statusBadge, fmtTime, fmtDuration, runTime, errorBlock, methodOf } from "./dom.js";

const statuses = ["pending", "in_progress", "completed", "failed", "cancelled"];
const pageSize = 50;
const refreshMs = 2000;

/** Renders the runs page; args are unused (the filters live in the query of the hash). */
export async function render(view) {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const state = { status: q.get("status") || "", user: q.get("user") || "", offset: Number(q.get("offset")) || 0 };
  const counts = h("ul", { class: "chips", "aria-label": "Trees per status" });
  const body = h("div", { id: "runs-table" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  fill(view, h("h1", {}, "Runs"), counts, filters(state), body, pager);
  const refresh = async () => {
    const [list, count] = await Promise.all([
      rpc("tasks.list", { root_only: true, limit: pageSize + 1, offset: state.offset, ...(state.status && { status: state.status }), ...(state.user && { user_id: state.user }) }),
      rpc("tasks.count", { root_only: true, ...(state.user && { user_id: state.user }) }),
    ]);
    fill(counts, ...statuses.map((s) => h("li", {}, h("a", { href: link({ ...state, status: s, offset: 0 }) }, statusBadge(s), " ", String(count[s] || 0)))), h("li", {}, h("a", { href: link({ ...state, status: "", offset: 0 }) }, "all ", String(count.total || 0))));
    fill(body, table(list.slice(0, pageSize)));
    fill(pager, state.offset > 0 ? h("a", { href: link({ ...state, offset: Math.max(0, state.offset - pageSize) }) }, "← Newer") : null, h("span", { class: "muted" }, ` ${state.offset + 1}–${state.offset + Math.min(list.length, pageSize)} `), list.length > pageSize ? h("a", { href: link({ ...state, offset: state.offset + pageSize }) }, "Older →") : null);
  };
  await refresh();
  let stopped = false;
  const timer = setInterval(() => {
    if (!stopped && !document.hidden) refresh().catch(() => {});
  }, refreshMs);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** The hash of the runs page with state as its query. */
function link(state) {
  const q = new URLSearchParams();
  if (state.status) q.set("status", state.status);
  if (state.user) q.set("user", state.user);
  if (state.offset) q.set("offset", String(state.offset));
  const s = q.toString();
  return "#/runs" + (s ? "?" + s : "");
}

/** The filter form (status, user) and the search by task id. */
function filters(state) {
  const status = h("select", { id: "f-status" }, h("option", { value: "" }, "any status"), ...statuses.map((s) => h("option", { value: s, selected: s === state.status }, s.replace("_", " "))));
  const user = h("input", { id: "f-user", type: "text", value: state.user, placeholder: "any user" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter runs" }, h("label", { for: "f-status" }, "Status"), status, h("label", { for: "f-user" }, "User"), user, h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = link({ status: status.value, user: user.value.trim(), offset: 0 });
  });
  const id = h("input", { id: "f-id", type: "search", placeholder: "task id", required: true });
  const found = h("span", { role: "alert" });
  const search = h("form", { class: "filters", role: "search", "aria-label": "Open a task by id" }, h("label", { for: "f-id" }, "Open task"), id, h("button", { type: "submit" }, "Open"), found);
  search.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const t = await rpc("tasks.get", { task_id: id.value.trim() });
      location.hash = (t.parent_id ? "#/task/" : "#/tree/") + encodeURIComponent(t.id);
    } catch (err) {
      fill(found, err instanceof RpcError && err.code === -32001 ? "no such task" : errorBlock(err));
    }
  });
  return h("div", { class: "toolbar" }, form, search);
}

function table(list) {
  if (!list.length) return h("p", { class: "muted" }, "No runs match.");
  const rows = list.map((t) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: "#/tree/" + encodeURIComponent(t.id) }, t.name || t.id)),
      h("td", {}, statusBadge(t.status), t.status === "in_progress" ? h("progress", { max: "1", value: String(t.progress || 0), "aria-label": "progress" }) : null),
      h("td", {}, methodOf(t)),
      h("td", {}, t.user_id || "–"),
      h("td", {}, fmtTime(t.created_at)),
      h("td", {}, fmtTime(t.started_at)),
      h("td", {}, fmtTime(t.completed_at)),
      h("td", { class: "num" }, fmtDuration(runTime(t))),
    ),
  );
  const head = ["Tree", "Status", "Executor", "User", "Submitted", "Started", "Ended", "Duration"].map((c) => h("th", { scope: "col" }, c));
  return h("div", { class: "table-wrap" }, h("table", { class: "list" }, h("caption", { class: "sr-only" }, "Runs, newest first"), h("thead", {}, h("tr", {}, ...head)), h("tbody", {}, ...rows)));
}
