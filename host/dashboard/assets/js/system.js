// System: health, the node (and the cluster's nodes), metrics over time sampled from
// GET /metrics while the page is open, and the scheduled trees.
import { rpc, get } from "./api.js";
import { h, fill, fmtTime, statusBadge } from "./dom.js";

const sampleMs = 2000;
const keep = 90; // samples per series: three minutes

/** parseMetrics reads the Prometheus text format into {"name{labels}": value}. */
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    const v = Number(line.slice(i + 1));
    if (i > 0 && !isNaN(v)) out[line.slice(0, i)] = v;
  }
  return out;
}

// series are the charts: each takes two successive samples (and the seconds between them).
const series = [
  { id: "tasks-per-s", label: "Executions ended per second", fn: (m, p, dt) => (p ? Math.max(0, (sum(m, "apflow_executor_duration_seconds_count") - sum(p, "apflow_executor_duration_seconds_count")) / dt) : null) },
  { id: "pending", label: "Tasks pending (queue depth)", fn: (m) => m['apflow_tasks{status="pending"}'] ?? null },
  { id: "executing", label: "Tasks executing", fn: (m) => m.apflow_tasks_executing ?? null },
  { id: "latency", label: "JSON-RPC latency on /tasks, mean ms over the interval", fn: (m, p) => (p ? meanMs(m, p, 'route="/tasks"') : null) },
];

/** The sum of every series of metric name (all label sets). */
function sum(m, name) {
  let n = 0;
  for (const [k, v] of Object.entries(m)) if (k === name || k.startsWith(name + "{")) n += v;
  return n;
}

/** The mean request duration of one route over the interval (a waiting tasks.execute
 * counts too; /events streams are left out by taking one route). */
function meanMs(m, p, route) {
  const s = `apflow_http_request_duration_seconds_sum{${route}}`, c = `apflow_http_request_duration_seconds_count{${route}}`;
  const count = (m[c] || 0) - (p[c] || 0);
  return count > 0 ? (((m[s] || 0) - (p[s] || 0)) / count) * 1000 : 0;
}

/** Renders #/system; samples the metrics until the page is left. */
export async function render(view, _args, live) {
  const health = h("div", {});
  const nodes = h("div", {});
  const charts = h("div", { class: "charts" });
  const scheduled = h("div", {});
  fill(view, h("h1", {}, "System"), health, h("section", {}, h("h2", {}, "Nodes"), nodes), h("section", {}, h("h2", {}, "Metrics"), h("p", { class: "muted" }, `Sampled from /metrics every ${sampleMs / 1000} s while this page is open.`), charts), h("section", {}, h("h2", {}, "Scheduled trees"), scheduled));
  const data = Object.fromEntries(series.map((s) => [s.id, []]));
  let prev = null, prevAt = 0;
  const sample = async () => {
    const [hz, text] = await Promise.all([get("/healthz", { json: true }), get("/metrics")]);
    const m = parseMetrics(text);
    const now = Date.now();
    for (const s of series) {
      const v = s.fn(m, prev, (now - prevAt) / 1000);
      if (v !== null) data[s.id].push(v);
      if (data[s.id].length > keep) data[s.id].shift();
    }
    prev = m;
    prevAt = now;
    fill(health, facts(hz, m));
    fill(nodes, nodeTable(hz, m));
    fill(charts, ...series.map((s) => chart(s, data[s.id])));
  };
  await sample();
  const list = await rpc("tasks.scheduled.list", { enabled_only: false, limit: 100 });
  fill(scheduled, scheduleTable(list));
  if (!live()) return null;
  let stopped = false, timer = 0;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) await sample().catch((err) => fill(health, h("p", { class: "error-box" }, `Could not refresh: ${err.message}`)));
    if (!stopped) timer = setTimeout(tick, sampleMs);
  };
  timer = setTimeout(tick, sampleMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function facts(hz, m) {
  const rows = [["Status", hz.status], ["Version", hz.version], ["Role", hz.role + (hz.node_id ? ` (node ${hz.node_id})` : "")], ["Runs in progress", String(m.apflow_runs_in_progress ?? hz.running)], ["Executors", String(m.apflow_executors ?? "–")]];
  return h("dl", { class: "facts", id: "health" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function nodeTable(hz, m) {
  const ids = Object.keys(m).filter((k) => k.startsWith("apflow_cluster_node_alive{")).map((k) => k.match(/node="([^"]*)"/)[1]);
  if (!ids.length) return h("p", {}, `A single server (${hz.role}): no cluster.`);
  const head = ["Node", "Alive", "Tasks claimed", "Runs coordinated"].map((c) => h("th", { scope: "col" }, c));
  const rows = ids.map((id) => h("tr", {}, h("td", {}, id + (id === hz.node_id ? " (this node)" : "")), h("td", {}, m[`apflow_cluster_node_alive{node="${id}"}`] ? "yes" : "no"), h("td", { class: "num" }, String(m[`apflow_cluster_node_claims{node="${id}"}`] ?? 0)), h("td", { class: "num" }, String(m[`apflow_cluster_node_trees{node="${id}"}`] ?? 0))));
  return h("div", {}, h("p", {}, `Cluster: ${m.apflow_cluster_nodes_alive ?? "?"} nodes alive, ${m.apflow_cluster_tasks_queued ?? 0} tasks queued.`), h("table", { class: "list" }, h("thead", {}, h("tr", {}, ...head)), h("tbody", {}, ...rows)));
}

/** A line chart of one series as inline SVG, with its last value as text. */
function chart(s, values) {
  const w = 300, ht = 80;
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, keep - 1)) * w},${ht - (v / max) * (ht - 4) - 2}`).join(" ");
  const last = values.length ? values[values.length - 1] : null;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${ht}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${s.label}: ${last === null ? "no data yet" : last.toFixed(2)}`);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", pts);
  line.setAttribute("class", "spark");
  svg.append(line);
  return h("figure", { class: "chart", id: "chart-" + s.id }, svg, h("figcaption", {}, `${s.label}: `, h("strong", {}, last === null ? "–" : last.toFixed(2)), ` (max ${max.toFixed(2)})`));
}

function scheduleTable(list) {
  if (!list.length) return h("p", { class: "muted" }, "No scheduled trees.");
  const head = ["Task", "Schedule", "Enabled", "Runs", "Last run", "Next run", "Status"].map((c) => h("th", { scope: "col" }, c));
  const rows = list.map((t) => h("tr", {}, h("td", {}, h("a", { href: "#/tree/" + encodeURIComponent(t.id) }, t.name || t.id)), h("td", {}, `${t.schedule_type} ${t.schedule_expression}`), h("td", {}, t.schedule_enabled ? "yes" : "no"), h("td", { class: "num" }, `${t.run_count || 0}${t.max_runs ? "/" + t.max_runs : ""}`), h("td", {}, fmtTime(t.last_run_at)), h("td", {}, fmtTime(t.next_run_at)), h("td", {}, statusBadge(t.status))));
  return h("table", { class: "list" }, h("thead", {}, h("tr", {}, ...head)), h("tbody", {}, ...rows));
}
