// Small helpers shared by the pages: building elements, formatting times and statuses.

/**
 * h builds an element: attrs are attributes (on* keys become listeners, "class" and
 * "text" are shortcuts, false/null/undefined values are skipped), children are nodes or
 * strings (as text, never HTML: task names and errors come from users and plugins).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of el with children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A status badge: text and colour of a task status. */
export function statusBadge(status) {
  return h("span", { class: `badge status-${status || "unknown"}` }, (status || "unknown").replace("_", " "));
}

/** An ISO time as local date and time, "–" when absent. */
export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

/** A duration in milliseconds as "850 ms", "12.4 s", "3 min 5 s", "2 h 4 min". */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** How long a task ran (or has been running), in ms; null before it started. */
export function runTime(t, now = Date.now()) {
  if (!t.started_at) return null;
  const end = t.completed_at ? Date.parse(t.completed_at) : now;
  return end - Date.parse(t.started_at);
}

/** JSON as indented text in a <pre> (a placeholder when absent). */
export function jsonBlock(v, label) {
  if (v === undefined || v === null) return h("p", { class: "muted" }, "none");
  return h("pre", { class: "json", tabindex: "0", "aria-label": label || "JSON" }, JSON.stringify(v, null, 2));
}

/** Shows a message in the page's live region (role=status). kind: "ok" or "error". */
export function flash(message, kind = "ok") {
  const box = document.getElementById("flash");
  fill(box, h("p", { class: `flash ${kind}` }, message));
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => box.replaceChildren(), kind === "error" ? 15000 : 5000);
}

/**
 * An error as a block the page shows: the message, and each problem of the API's
 * data.errors (task, field, reason) as a list item.
 */
export function errorBlock(err) {
  const problems = (err.data && Array.isArray(err.data.errors) && err.data.errors) || [];
  const message = problems.length ? err.message.split("\n")[0] : err.message;
  const title = err.name === "RpcError" ? `Error ${err.code}` : "Error";
  const box = h("div", { class: "error-box", role: "alert" }, h("strong", {}, title), " ", message);
  if (problems.length) box.append(h("ul", {}, ...problems.map((e) => h("li", {}, problemText(e)))));
  return box;
}

/** One problem of a refused submission: "task NAME: FIELD: REASON". */
export function problemText(e) {
  if (typeof e === "string") return e;
  const who = e.task_name || e.task_id || e.task;
  return `${who ? "task " + who + ": " : ""}${e.field ? e.field + ": " : ""}${e.reason || e.message || JSON.stringify(e)}`;
}
