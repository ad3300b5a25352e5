// Plugins: the loaded executors and hooks; one plugin's schemas as forms; upload a new
// module (hot-load); run an executor from a form generated from its input schema.
import { rpc, get, uploadPlugin } from "./api.js";
import { h, fill, errorBlock, flash, jsonBlock, statusBadge } from "./dom.js";
import { schemaForm } from "./form.js";
import { validate } from "./schema.js";

/** Renders #/plugins and #/plugins/ID. */
export async function render(view, [id], live) {
  if (id) return renderOne(view, id, live);
  const [{ plugins }, { executors }] = await Promise.all([get("/plugins", { json: true }), rpc("system.executors")]);
  if (!live()) return;
  const rows = executors.map((e) => {
    const p = plugins.find((x) => x.id === e.id);
    return h("tr", {}, h("td", {}, h("a", { href: "#/plugins/" + encodeURIComponent(e.id) }, e.id)), h("td", {}, e.name || ""), h("td", {}, e.kind || ""), h("td", {}, (p && p.version) || e.version || "–"), h("td", {}, e.hash ? h("code", { title: e.hash }, e.hash.slice(0, 12) + "…") : "–"), h("td", {}, e.description || ""));
  });
  for (const p of plugins.filter((x) => !executors.some((e) => e.id === x.id))) {
    rows.push(h("tr", {}, h("td", {}, h("a", { href: "#/plugins/" + encodeURIComponent(p.id) }, p.id)), h("td", {}, p.name || ""), h("td", {}, p.kind || "hook"), h("td", {}, p.version || "–"), h("td", {}, h("code", { title: p.hash }, (p.hash || "").slice(0, 12) + "…")), h("td", {}, p.description || "")));
  }
  const head = ["Id", "Name", "Kind", "Version", "sha256", "Description"].map((c) => h("th", { scope: "col" }, c));
  fill(view, h("h1", {}, "Plugins"), uploadForm(), h("div", { class: "table-wrap" }, h("table", { class: "list", id: "plugins-table" }, h("thead", {}, h("tr", {}, ...head)), h("tbody", {}, ...rows))));
}

function uploadForm() {
  const file = h("input", { id: "plugin-file", type: "file", accept: ".wasm,application/wasm", required: true });
  const out = h("div", { role: "alert" });
  const form = h("form", { class: "card", "aria-labelledby": "upload-title" }, h("h2", { id: "upload-title" }, "Upload a plugin"), h("label", { for: "plugin-file" }, "WebAssembly module (.wasm): it is checked and loaded at once, replacing an older version of the same id"), file, h("button", { type: "submit", id: "upload" }, "Upload"), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const p = await uploadPlugin(file.files[0]);
      flash(`Loaded ${p.id} ${p.version || ""}`);
      location.hash = "#/plugins/" + encodeURIComponent(p.id);
    } catch (err) {
      fill(out, errorBlock(err));
    }
  });
  return form;
}

async function renderOne(view, id, live) {
  const [p, { executors }] = await Promise.all([
    get("/plugins/" + encodeURIComponent(id), { json: true }).catch((err) => {
      if (err.status === 404) return null; // a built-in executor, or not loaded
      throw err;
    }),
    rpc("system.executors"),
  ]);
  if (!live()) return;
  const ex = executors.find((e) => e.id === id);
  const meta = p || ex;
  if (!meta) {
    fill(view, h("h1", {}, id), h("p", {}, "No plugin or executor with this id is loaded. ", h("a", { href: "#/plugins" }, "Plugins")));
    return;
  }
  const facts = [["Id", meta.id], ["Name", meta.name || "–"], ["Kind", meta.kind || "–"], ["Version", meta.version || "–"], ["sha256", meta.hash || "–"], ["Description", meta.description || "–"]];
  const parts = [h("p", { class: "crumbs" }, h("a", { href: "#/plugins" }, "Plugins"), " / ", meta.id), h("h1", {}, meta.name || meta.id), h("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))];
  const input = (ex && ex.input_schema) || meta.input_schema;
  if (ex) parts.push(runForm(ex, input));
  if (input) parts.push(h("details", {}, h("summary", {}, "Input schema (JSON)"), jsonBlock(input, "input schema")));
  const output = (ex && ex.output_schema) || meta.output_schema;
  if (output) parts.push(h("section", {}, h("h2", {}, "Output schema"), schemaForm(output, { idPrefix: "out", readOnly: true }).element, h("details", {}, h("summary", {}, "As JSON"), jsonBlock(output, "output schema"))));
  fill(view, ...parts);
}

/** The form generated from the executor's input schema; runs a one-task tree with it. */
function runForm(ex, schema) {
  const sf = schemaForm(schema || {}, { idPrefix: "in" });
  const out = h("div", { id: "run-result", "aria-live": "polite" });
  const btn = h("button", { type: "submit", id: "run-executor" }, "Run");
  const form = h("form", { class: "card", "aria-labelledby": "run-title", novalidate: true }, h("h2", { id: "run-title" }, "Run this executor"), sf.element, btn, out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let inputs;
    try {
      inputs = sf.value();
    } catch (err) {
      if (err.errors) sf.showErrors(err.errors);
      fill(out, errorBlock(err));
      return;
    }
    const problems = schema ? validate(schema, inputs) : [];
    sf.showErrors(problems);
    if (problems.length) {
      fill(out, h("p", { class: "error-box" }, `${problems.length} problem(s) in the inputs`));
      return;
    }
    btn.disabled = true;
    fill(out, h("p", { class: "muted" }, "Running…"));
    try {
      const r = await rpc("tasks.execute", { tasks: [{ name: `run ${ex.id}`, schemas: { method: ex.id }, inputs }] });
      fill(out, h("p", {}, statusBadge(r.status), " ", h("a", { href: "#/task/" + encodeURIComponent(r.root_task_id) }, "the task")), r.error ? h("pre", { class: "error-text" }, r.error) : jsonBlock(r.result, "result"));
    } catch (err) {
      // The server's reason reads "does not satisfy the input schema of executor X: …".
      if (err.data && Array.isArray(err.data.errors)) sf.showErrors(err.data.errors.map((p) => ({ path: (p.path || []).slice(1).join("."), message: String(p.reason).replace(/^does not satisfy the input schema of executor "[^"]*": /, "") })));
      fill(out, errorBlock(err));
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}
