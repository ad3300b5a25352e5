// A task: what it got, what it gave, what it cost, what it logged; and its actions.
import { rpc, get, startRun } from "./api.js";
import { h, fill, statusBadge, fmtTime, fmtDuration, runTime, jsonBlock, errorBlock, flash } from "./dom.js";
import { methodOf } from "./graph.js";

const terminal = new Set(["completed", "failed", "cancelled"]);
const pollMs = 1000;

/** Renders #/task/ID; follows the task (and its logs) until the page is left. */
export async function render(view, [id], live) {
  let t = await rpc("tasks.get", { task_id: id });
  const head = h("div", {});
  const out = h("div", { role: "alert" }); // the actions' errors: kept across redraws
  const stale = h("p", { class: "muted", role: "status" });
  const details = h("div", {});
  const logBox = h("div", { class: "logs", id: "task-logs", role: "log", "aria-label": "Log lines", tabindex: "0" });
  const logState = { after: 0, lines: 0 };
  const plugin = pluginCell(t.plugin);
  const draw = (status) => {
    if (status !== t.status || !head.firstChild) fill(head, ...header(t, out));
    fill(details, ...body(t, plugin));
  };
  draw();
  await readLogs(id, logState, logBox);
  if (!live()) return null;
  fill(view, head, out, stale, details, h("section", { "aria-labelledby": "logs-title" }, h("h2", { id: "logs-title" }, "Logs"), logBox));
  let stopped = false, timer = 0;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        const before = t;
        t = await rpc("tasks.get", { task_id: id });
        if (JSON.stringify(t) !== JSON.stringify(before)) draw(before.status);
        await readLogs(id, logState, logBox);
        fill(stale);
      } catch (err) {
        fill(stale, `Could not refresh: ${err.message}`);
      }
    }
    if (!stopped) timer = setTimeout(tick, pollMs); // the next tick after this one ended
  };
  timer = setTimeout(tick, pollMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** Reads the log lines after the cursor and appends them (a line is shown once). */
async function readLogs(id, state, box) {
  for (;;) {
    const page = await rpc("tasks.logs", { task_id: id, after: state.after, limit: 500 });
    if (state.lines === 0 && page.lines.length === 0) fill(box, h("p", { class: "muted" }, "No log lines."));
    for (const l of page.lines) {
      if (l.seq <= state.after) continue;
      if (state.lines === 0) box.replaceChildren();
      box.append(h("div", { class: `log-line level-${l.level}` }, h("time", {}, fmtTime(l.time)), h("span", { class: "log-level" }, l.level), h("span", { class: "log-source" }, `${l.source} #${l.attempt}`), h("span", { class: "log-msg" }, l.message)));
      state.lines++;
      state.after = l.seq;
    }
    state.after = Math.max(state.after, page.next_after || 0);
    if (!page.more) return;
  }
}

/** The title, the breadcrumbs and the action buttons (their errors go to out). */
function header(t, out) {
  const crumbs = [h("a", { href: "#/runs" }, "Runs")];
  if (t.parent_id) crumbs.push(" / ", h("a", { href: "#/tree/" + encodeURIComponent(t.task_tree_id || t.parent_id) }, "tree"), " / ", h("a", { href: "#/task/" + encodeURIComponent(t.parent_id) }, "parent"));
  else crumbs.push(" / ", h("a", { href: "#/tree/" + encodeURIComponent(t.id) }, "tree view"));
  return [h("p", { class: "crumbs" }, ...crumbs), h("h1", {}, t.name || t.id, " ", statusBadge(t.status)), actions(t, out)];
}

function actions(t, out) {
  const root = t.task_tree_id || t.id;
  const bar = h("div", { class: "actions", role: "group", "aria-label": "Actions" });
  const act = (label, fn, extra = {}) => h("button", { type: "button", ...extra, onclick: async (e) => {
    e.currentTarget.disabled = true;
    const btn = e.currentTarget;
    out.replaceChildren();
    try {
      await fn();
    } catch (err) {
      fill(out, errorBlock(err));
    } finally {
      btn.disabled = false;
    }
  } }, label);
  if (!terminal.has(t.status)) {
    bar.append(act("Cancel task", async () => report(await rpc("tasks.cancel", { task_ids: [t.id] }))));
    if (t.parent_id) bar.append(act("Cancel tree", async () => report(await rpc("tasks.cancel", { task_ids: [root] }))));
  }
  if (t.status === "failed" || t.status === "cancelled") {
    bar.append(act("Re-run failed parts", async () => {
      await startRun({ task_id: root });
      flash(`Re-running ${root}`);
      location.hash = "#/tree/" + encodeURIComponent(root);
    }));
  }
  bar.append(act("Copy tree", async () => {
    const c = await rpc("tasks.clone", { task_id: root, origin_type: "copy" });
    const first = Array.isArray(c) ? c[0] : c;
    flash(`Copied to ${first.id}`);
    location.hash = "#/tree/" + encodeURIComponent(first.id);
  }));
  bar.append(act("Delete", async () => {
    if (!confirm(`Delete ${t.name || t.id} and its descendants?`)) return;
    const r = await rpc("tasks.delete", { task_id: t.id, force: terminal.has(t.status) });
    flash(`Deleted ${r.deleted_count} task(s)`);
    location.hash = t.parent_id ? "#/tree/" + encodeURIComponent(root) : "#/runs";
  }, { class: "danger" }));
  return bar;
}

function report(answers) {
  flash(answers.map((a) => `${a.task_id}: ${a.status}${a.message ? " (" + a.message + ")" : ""}`).join("; "));
}

/** The task's facts, then inputs, result, error, usage, hooks and retries. */
function body(t, plugin) {
  const facts = [
    ["Id", h("code", {}, t.id)],
    ["Executor", methodOf(t) || "–"],
    ["Plugin", plugin],
    ["Priority", String(t.priority)],
    ["User", t.user_id || "–"],
    ["Attempts", String(t.attempts || 0)],
    ["Submitted", fmtTime(t.created_at)],
    ["Started", fmtTime(t.started_at)],
    ["Ended", fmtTime(t.completed_at)],
    ["Ran for", fmtDuration(runTime(t))],
    ["Progress", h("progress", { max: "1", value: String(t.progress || 0) }, `${Math.round((t.progress || 0) * 100)}%`)],
    ["Dependencies", (t.dependencies || []).length ? h("span", {}, ...t.dependencies.map((d) => [h("a", { href: "#/task/" + encodeURIComponent(d.id || d) }, d.id || d), d.required === false ? " (optional) " : " "])) : "none"],
  ];
  const out = [h("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))];
  if (t.error) out.push(h("section", { "aria-labelledby": "err-title" }, h("h2", { id: "err-title" }, "Error"), h("pre", { class: "error-text", tabindex: "0" }, t.error)));
  out.push(h("section", {}, h("h2", {}, "Inputs"), h("p", { class: "muted" }, "As the executor got them: dependencies' results injected, pre-hooks applied."), jsonBlock(t.inputs, "inputs")));
  if (t.own_inputs) out.push(h("section", { id: "own-inputs" }, h("h2", {}, "Own inputs"), h("p", { class: "muted" }, "As submitted or last updated: what each run starts from."), jsonBlock(t.own_inputs, "own inputs")));
  if (t.inputs_before_hooks) out.push(h("section", { id: "inputs-before-hooks" }, h("h2", {}, "Inputs before the pre-hooks"), h("p", { class: "muted" }, "What the pre-hooks got (dependencies' results injected); they changed it into the inputs above."), jsonBlock(t.inputs_before_hooks, "inputs before the pre-hooks")));
  out.push(h("section", {}, h("h2", {}, "Result"), jsonBlock(t.result, "result")));
  if (t.usage) out.push(h("section", {}, h("h2", {}, "Usage"), usage(t.usage)));
  if ((t.hook_errors || []).length) out.push(h("section", {}, h("h2", {}, "Hook errors"), h("ul", {}, ...t.hook_errors.map((e) => h("li", {}, e)))));
  if (t.retry) out.push(h("section", {}, h("h2", {}, "Retries"), retries(t.retry)));
  return out;
}

/** The plugin that ran the task: its id and version (asked once per page) and hash. */
function pluginCell(hash) {
  if (!hash) return h("span", {}, "built-in or not run");
  const cell = h("span", {}, h("code", { title: hash }, hash.slice(0, 12) + "…"));
  get("/plugins/" + encodeURIComponent(hash), { json: true })
    .then((p) => cell.prepend(h("a", { href: "#/plugins/" + encodeURIComponent(p.id) }, `${p.id} ${p.version || ""}`), " "))
    .catch((err) => cell.append(err.status === 404 ? " (no longer loaded)" : ` (${err.message})`));
  return cell;
}

function usage(u) {
  const rows = [
    ["Duration", fmtDuration(u.duration_ms)],
    ["Peak memory", u.peak_memory_pages ? `${u.peak_memory_pages} pages (${((u.peak_memory_pages * 65536) / 1048576).toFixed(1)} MiB)` : "–"],
    ["Host calls", String(u.host_calls || 0)],
    ["Bytes in / out", `${u.bytes_in || 0} / ${u.bytes_out || 0}`],
  ];
  if (u.llm_input_tokens || u.llm_output_tokens) {
    rows.push(["LLM tokens in / out", `${u.llm_input_tokens || 0} / ${u.llm_output_tokens || 0}`]);
  }
  return h("dl", { class: "facts" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function retries(r) {
  const list = (r.history || []).map((a) => h("li", {}, `attempt ${a.attempt}: ${a.kind || ""} ${a.error || ""} (${fmtDuration(a.duration_ms)})`));
  return h("div", {}, h("p", {}, `max attempts ${r.max_attempts || "–"}`, r.next_attempt_at ? `, next attempt ${fmtTime(r.next_attempt_at)}` : ""), h("ul", {}, ...list));
}
