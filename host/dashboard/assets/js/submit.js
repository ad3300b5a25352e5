// Submit: paste or upload a tree file, see its problems per task and field before it is
// sent, then run it and follow it. The server checks everything again on submission.
import { rpc, startRun } from "./api.js";
import { h, fill, errorBlock, problemText, flash } from "./dom.js";
import { validate } from "./schema.js";

const example = `[
  {"id": "report", "name": "report", "schemas": {"method": "aggregate_results_executor"}, "dependencies": ["a"]},
  {"id": "a", "name": "a", "parent_id": "report", "schemas": {"method": "METHOD"}, "inputs": {}}
]`;

/** Renders #/submit. */
export async function render(view, _args, live) {
  const { executors } = await rpc("system.executors");
  if (!live()) return;
  const byID = new Map(executors.map((e) => [e.id, e]));
  const text = h("textarea", { id: "tree-json", rows: "18", spellcheck: "false", "aria-describedby": "tree-help" });
  text.value = example.replace("METHOD", (executors.find((e) => e.kind !== "builtin") || executors[0] || { id: "aggregate_results_executor" }).id);
  const file = h("input", { id: "tree-file", type: "file", accept: ".json,application/json" });
  file.addEventListener("change", async () => {
    if (file.files[0]) text.value = await file.files[0].text();
  });
  const problems = h("div", { id: "problems", role: "alert" });
  const check = () => {
    const found = checkTree(text.value, byID);
    fill(problems, found.length ? h("div", { class: "error-box" }, h("strong", {}, `${found.length} problem(s)`), h("ul", {}, ...found.map((p) => h("li", {}, problemText(p))))) : h("p", { class: "ok" }, "No problems found; the server checks again when you run it."));
    return found;
  };
  const runBtn = h("button", { type: "submit", id: "run-tree" }, "Submit and run");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "submit-title" },
    h("h1", { id: "submit-title" }, "Submit a tree"),
    h("label", { for: "tree-json" }, "Tree (JSON: an array of tasks, or {\"tasks\": […]})"),
    text,
    h("p", { id: "tree-help", class: "muted" }, "Ids are this submission's names for its tasks; parent_id groups, dependencies order and inject results. The format is docs/tree-format.md."),
    h("label", { for: "tree-file" }, "…or load a file"),
    file,
    h("div", { class: "actions" }, h("button", { type: "button", id: "check-tree", onclick: check }, "Check"), runBtn),
    problems,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (check().length) return;
    runBtn.disabled = true;
    try {
      const created = await rpc("tasks.create", JSON.parse(text.value));
      const list = Array.isArray(created) ? created : [created];
      const root = list.find((t) => !t.parent_id) || list[0];
      try {
        await startRun({ task_id: root.id });
      } catch (err) {
        flash(`The tree was stored but could not start: ${err.message}`, "error");
      }
      location.hash = "#/tree/" + encodeURIComponent(root.id);
    } catch (err) {
      fill(problems, errorBlock(err));
    } finally {
      runBtn.disabled = false;
    }
  });
  fill(view, form);
}

/** taskList is the tasks of a submission document, or throws what is wrong with it. */
function taskList(doc) {
  if (Array.isArray(doc)) return doc;
  if (doc && Array.isArray(doc.tasks)) return doc.tasks;
  if (doc && typeof doc === "object") return [doc];
  throw new Error("a tree is an array of tasks, {\"tasks\": […]} or one task object");
}

/**
 * checkTree lists the problems of a submission that the browser can see: JSON, names,
 * ids, parents, dependencies, executors and inputs against each executor's input schema
 * (a required top-level input a dependency may bring is not counted missing).
 */
export function checkTree(textValue, executors) {
  let tasks;
  try {
    tasks = taskList(JSON.parse(textValue));
  } catch (err) {
    return [{ field: "", reason: err instanceof SyntaxError ? "not valid JSON: " + err.message : err.message }];
  }
  const out = [];
  const keys = new Set();
  for (const t of tasks) {
    if (t && typeof t === "object") {
      if (t.id) keys.add(String(t.id));
      if (t.name) keys.add(String(t.name));
    }
  }
  const roots = [];
  tasks.forEach((t, i) => {
    const who = { task_name: (t && (t.name || t.id)) || `#${i}` };
    const bad = (field, reason) => out.push({ ...who, field, reason });
    if (!t || typeof t !== "object" || Array.isArray(t)) return bad("", "a task is a JSON object");
    if (!t.name) bad("name", "every task needs a name");
    if (t.parent_id) {
      if (!keys.has(String(t.parent_id))) bad("parent_id", `"${t.parent_id}" is not the id or name of a task in this submission`);
    } else roots.push(who.task_name);
    if (t.priority !== undefined && ![0, 1, 2, 3].includes(t.priority)) bad("priority", "must be 0 (urgent) .. 3 (low)");
    (t.dependencies || []).forEach((d, j) => {
      const id = typeof d === "string" ? d : d && (d.id || d.name);
      if (!id || !keys.has(String(id))) bad(`dependencies[${j}]`, `"${id}" is not the id or name of a task in this submission`);
    });
    const method = (t.params && t.params.executor_id) || (t.schemas && t.schemas.method);
    if (!method) return bad("schemas.method", "every task needs schemas.method (an executor id)");
    const ex = executors.get(method);
    if (!ex) return bad("schemas.method", `no executor "${method}" is loaded`);
    if (ex.input_schema) {
      const hasDeps = (t.dependencies || []).length > 0;
      for (const p of validate(ex.input_schema, t.inputs || {})) {
        // The server lets dependencies bring required inputs: only at the top level.
        if (hasDeps && p.path === "" && /^missing propert/.test(p.message)) continue;
        bad("inputs" + (p.path ? "." + p.path : ""), p.message);
      }
    }
  });
  if (roots.length !== 1) out.push({ field: "parent_id", reason: `exactly one task may have no parent_id; found ${roots.length}${roots.length ? " (" + roots.join(", ") + ")" : ""}` });
  return out;
}
