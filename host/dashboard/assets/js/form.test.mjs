// Tests of form.js on a tiny fake document (no npm package): node --test host/dashboard/assets/js/
// The fake knows what form.js may use: createElement, createTextNode, attributes,
// appending and removing nodes, textContent, and the value/checked properties of
// controls. innerHTML and friends throw, so a test fails if form.js ever uses them.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { schemaForm } from "./form.js";
import { validate } from "./schema.js";

const detach = (node) => {
  const parent = node.parentNode;
  if (parent) parent.childNodes.splice(parent.childNodes.indexOf(node), 1);
  node.parentNode = null;
};

const textNode = (text) => ({
  nodeType: 3,
  parentNode: null,
  textContent: String(text),
  remove() {
    detach(this);
  },
});

const elementNode = (tag) => {
  const attributes = new Map();
  const forbidden = () => {
    throw new Error("form.js must not parse HTML");
  };
  return {
    nodeType: 1,
    tagName: tag.toUpperCase(),
    parentNode: null,
    childNodes: [],
    value: "",
    checked: false,
    setAttribute: (k, v) => attributes.set(k, String(v)),
    getAttribute: (k) => (attributes.has(k) ? attributes.get(k) : null),
    hasAttribute: (k) => attributes.has(k),
    removeAttribute: (k) => attributes.delete(k),
    appendChild(child) {
      detach(child);
      child.parentNode = this;
      this.childNodes.push(child);
      return child;
    },
    append(...children) {
      for (const c of children) this.appendChild(c);
    },
    prepend(...children) {
      for (const c of children.reverse()) {
        detach(c);
        c.parentNode = this;
        this.childNodes.unshift(c);
      }
    },
    replaceChildren(...children) {
      for (const c of [...this.childNodes]) detach(c);
      this.append(...children);
    },
    remove() {
      detach(this);
    },
    get children() {
      return this.childNodes.filter((c) => c.nodeType === 1);
    },
    get textContent() {
      return this.childNodes.map((c) => c.textContent).join("");
    },
    set textContent(text) {
      this.replaceChildren(textNode(text));
    },
    get id() {
      return this.getAttribute("id") ?? "";
    },
    set innerHTML(_) {
      forbidden();
    },
    set outerHTML(_) {
      forbidden();
    },
    insertAdjacentHTML: forbidden,
  };
};

beforeEach(() => {
  globalThis.document = {
    createElement: elementNode,
    createTextNode: textNode,
  };
});

// ---- helpers of the tests ----

const walk = (node, out = []) => {
  if (node.nodeType === 1) {
    out.push(node);
    node.childNodes.forEach((c) => walk(c, out));
  }
  return out;
};
const find = (root, pred) => walk(root).filter(pred);
const byId = (root, id) => {
  const found = find(root, (n) => n.id === id);
  assert.equal(found.length, 1, `one element with id ${id}, found ${found.length}`);
  return found[0];
};
const control = (form, path) => {
  const found = find(form.element, (n) => n.getAttribute("data-path") === path && ["INPUT", "SELECT", "TEXTAREA"].includes(n.tagName));
  assert.equal(found.length, 1, `one control for ${path}`);
  return found[0];
};
const labelOf = (form, ctl) => find(form.element, (n) => n.tagName === "LABEL" && n.getAttribute("for") === ctl.id)[0];

const executor = {
  type: "object",
  required: ["name", "count", "cfg", "on"],
  properties: {
    name: { type: "string", title: "Name", description: "Who to greet", minLength: 2 },
    count: { type: "integer", minimum: 1, maximum: 10 },
    ratio: { type: "number" },
    step5: { type: "integer", multipleOf: 5 },
    mode: { type: "string", enum: ["fast", "slow"] },
    level: { enum: [1, 2, 3] },
    on: { type: "boolean" },
    loud: { type: "boolean" },
    keep: { type: "boolean", default: true },
    notes: { type: "string", maxLength: 1000 },
    body: { type: "string", format: "textarea" },
    cfg: { type: "object", title: "Config", description: "Settings", required: ["x"], properties: { x: { type: "string" }, y: { type: "integer" } } },
    opt: { type: "object", properties: { z: { type: "string" } } },
    tags: { type: "array", items: { type: "string" } },
    either: { anyOf: [{ type: "string" }, { type: "number" }] },
    nullable: { type: ["string", "null"] },
    map: { type: "object", additionalProperties: { type: "string" } },
    free: { type: "object" },
  },
};

// ---- tests ----

test("form: a control per property, each labelled", () => {
  const form = schemaForm(executor);
  assert.equal(form.element.tagName, "DIV");
  assert.equal(form.element.getAttribute("class"), "schema-form");
  const kinds = {
    name: ["INPUT", "text"],
    count: ["INPUT", "number"],
    ratio: ["INPUT", "number"],
    mode: ["SELECT", null],
    level: ["SELECT", null],
    on: ["INPUT", "checkbox"],
    notes: ["TEXTAREA", null],
    body: ["TEXTAREA", null],
    "cfg.x": ["INPUT", "text"],
    "cfg.y": ["INPUT", "number"],
    "opt.z": ["INPUT", "text"],
    tags: ["TEXTAREA", null],
    either: ["TEXTAREA", null],
    nullable: ["TEXTAREA", null],
    map: ["TEXTAREA", null],
    free: ["TEXTAREA", null],
  };
  for (const [path, [tag, type]] of Object.entries(kinds)) {
    const c = control(form, path);
    assert.equal(c.tagName, tag, path);
    assert.equal(c.getAttribute("type"), type, path);
    assert.ok(labelOf(form, c), `${path} has a label`);
  }
  const json = ["tags", "either", "nullable", "map", "free"];
  for (const path of json) {
    assert.equal(control(form, path).getAttribute("class"), "json", path);
    assert.match(labelOf(form, control(form, path)).textContent, /\(JSON\)$/);
  }
  assert.equal(control(form, "notes").getAttribute("class"), null, "long text is not JSON");
});

test("form: labels, required marks, help text and ids", () => {
  const form = schemaForm(executor);
  const name = control(form, "name");
  assert.equal(name.id, "f-name");
  assert.equal(labelOf(form, name).textContent, "Name *");
  const star = find(labelOf(form, name), (n) => n.getAttribute("class") === "required")[0];
  assert.equal(star.getAttribute("aria-hidden"), "true");
  assert.equal(name.getAttribute("aria-required"), "true");
  assert.equal(name.getAttribute("aria-describedby"), "f-name-help");
  assert.equal(byId(form.element, "f-name-help").textContent, "Who to greet");
  const ratio = control(form, "ratio");
  assert.equal(labelOf(form, ratio).textContent, "ratio");
  assert.equal(ratio.getAttribute("aria-required"), null);
  assert.equal(ratio.getAttribute("aria-describedby"), null);
  assert.equal(control(form, "cfg.x").id, "f-cfg_x");
  const cfg = byId(form.element, "f-cfg");
  assert.equal(cfg.tagName, "FIELDSET");
  assert.equal(cfg.children[0].tagName, "LEGEND");
  assert.equal(cfg.children[0].textContent, "Config *");
  assert.equal(cfg.getAttribute("aria-describedby"), "f-cfg-help");
  assert.equal(byId(form.element, "f-cfg-help").textContent, "Settings");
  const ids = walk(form.element).map((n) => n.id).filter(Boolean);
  assert.equal(new Set(ids).size, ids.length, "ids are unique");
});

test("form: number inputs carry min, max and step", () => {
  const form = schemaForm(executor);
  const count = control(form, "count");
  assert.deepEqual(["min", "max", "step"].map((a) => count.getAttribute(a)), ["1", "10", "1"]);
  assert.equal(control(form, "ratio").getAttribute("step"), "any");
  assert.equal(control(form, "step5").getAttribute("step"), "5");
});

test("form: select options", () => {
  const form = schemaForm(executor);
  const opts = control(form, "mode").children;
  assert.deepEqual(opts.map((o) => o.textContent), ["(none)", "fast", "slow"]);
  const required = schemaForm({ required: ["m"], properties: { m: { enum: ["a"] } } }, { initial: {} });
  assert.equal(control(required, "m").children[0].textContent, "(choose one)");
  assert.equal(control(required, "m").value, "", "nothing chosen for the user");
  assert.deepEqual(opts.map((o) => o.getAttribute("value")), ["", '"fast"', '"slow"']);
});

test("form: value() holds what was entered, empty fields left out", () => {
  const form = schemaForm(executor);
  assert.deepEqual(form.value(), { cfg: {}, on: false, keep: true }, "defaults: a required object, required and default-true checkboxes");
  control(form, "name").value = "bob";
  control(form, "count").value = "3";
  control(form, "ratio").value = "0.5";
  control(form, "mode").value = '"slow"';
  control(form, "level").value = "2";
  control(form, "on").checked = true;
  control(form, "keep").checked = false;
  control(form, "notes").value = "line 1\nline 2";
  control(form, "cfg.x").value = "x";
  control(form, "tags").value = '["a", "b"]';
  control(form, "either").value = "12";
  control(form, "nullable").value = "null";
  assert.deepEqual(form.value(), {
    name: "bob",
    count: 3,
    ratio: 0.5,
    mode: "slow",
    level: 2,
    on: true,
    keep: false,
    notes: "line 1\nline 2",
    cfg: { x: "x" },
    tags: ["a", "b"],
    either: 12,
    nullable: null,
  });
  assert.deepEqual(validate(executor, form.value()), []);
});

test("form: value() throws naming every field that cannot be read", () => {
  const form = schemaForm(executor);
  control(form, "tags").value = "[1,";
  control(form, "count").validity = { badInput: true };
  control(form, "ratio").value = "abc";
  assert.throws(
    () => form.value(),
    (e) => {
      assert.match(e.message, /^count \(count\): not a number; ratio \(ratio\): not a number; tags \(tags\): not valid JSON: /);
      assert.deepEqual(e.errors.map((p) => p.path), ["count", "ratio", "tags"]);
      form.showErrors(e.errors);
      assert.equal(control(form, "tags").getAttribute("aria-invalid"), "true");
      return true;
    },
  );
});

test("form: initial values fill the fields", () => {
  const initial = { name: "al", count: 2, mode: "fast", level: 3, on: true, cfg: { x: "q", y: 4 }, tags: ["t"], map: { k: "v" } };
  const form = schemaForm(executor, { initial });
  assert.equal(control(form, "name").value, "al");
  assert.equal(control(form, "count").value, "2");
  assert.equal(control(form, "mode").value, '"fast"');
  assert.equal(control(form, "level").value, "3");
  assert.equal(control(form, "on").checked, true);
  assert.equal(control(form, "cfg.y").value, "4");
  assert.deepEqual(JSON.parse(control(form, "tags").value), ["t"]);
  assert.deepEqual(form.value(), { ...initial, keep: true }, "a checkbox without a value starts as its default");
});

test("form: a value a field cannot show is kept in a JSON textarea", () => {
  const form = schemaForm(executor, { initial: { name: 5, mode: "other", cfg: { x: "a", extra: 1 }, on: "yes" } });
  for (const path of ["name", "mode", "cfg", "on"]) {
    assert.equal(control(form, path).getAttribute("class"), "json", path);
  }
  assert.deepEqual(form.value(), { name: 5, mode: "other", cfg: { x: "a", extra: 1 }, on: "yes", keep: true });
  const root = schemaForm(executor, { initial: { unknown: 1 } });
  assert.equal(control(root, "").id, "f", "a root value with unknown keys: one textarea");
  assert.deepEqual(root.value(), { unknown: 1 });
});

test("form: a schema without properties is one JSON textarea", () => {
  for (const schema of [{}, true, { type: "array" }, { type: "object" }, { anyOf: [{ type: "string" }] }]) {
    const form = schemaForm(schema, { idPrefix: "run" });
    const c = control(form, "");
    assert.equal(c.tagName, "TEXTAREA");
    assert.equal(c.id, "run");
    assert.equal(labelOf(form, c).textContent, "Value (JSON)");
    c.value = "";
    assert.equal(form.value(), undefined);
    c.value = ' {"a": [1]} ';
    assert.deepEqual(form.value(), { a: [1] });
    c.value = "{";
    assert.throws(() => form.value(), { message: /^Value \(top level\): not valid JSON/ });
  }
  const titled = schemaForm({ type: "array", title: "Items", description: "what to do", default: [1] });
  assert.equal(labelOf(titled, control(titled, "")).textContent, "Items (JSON)");
  assert.equal(byId(titled.element, "f-help").textContent, "what to do");
  assert.deepEqual(titled.value(), [1]);
});

test("form: readOnly disables every control", () => {
  const form = schemaForm(executor, { readOnly: true });
  const controls = find(form.element, (n) => ["INPUT", "SELECT", "TEXTAREA"].includes(n.tagName));
  assert.ok(controls.length > 10);
  for (const c of controls) assert.ok(c.hasAttribute("disabled"), c.id);
  assert.ok(!schemaForm(executor).element.childNodes.some((n) => walk(n).some((x) => x.hasAttribute("disabled"))));
});

test("form: ids are sanitized and unique", () => {
  const schema = { properties: { "a.b": { type: "string" }, a_b: { type: "string" }, "a b": { type: "string", description: "d" }, "a_b-2": { type: "string" }, "é": { type: "string" } } };
  const form = schemaForm(schema, { idPrefix: "x" });
  const ids = ["a.b", "a_b", "a b", "a_b-2", "é"].map((p) => control(form, p).id);
  assert.deepEqual(ids, ["x-a_b", "x-a_b-2", "x-a_b-3", "x-a_b-2-2", "x-_"]);
  assert.equal(control(form, "a b").getAttribute("aria-describedby"), "x-a_b-3-help");
  const all = walk(form.element).map((n) => n.id).filter(Boolean);
  assert.equal(new Set(all).size, all.length);
});

test("form: titles and descriptions are text, never markup", () => {
  const evil = '<img src=x onerror="alert(1)">';
  const form = schemaForm({ properties: { [evil]: { type: "string", title: evil, description: evil, enum: [evil] } } });
  const c = control(form, evil);
  assert.equal(labelOf(form, c).textContent, evil);
  assert.equal(byId(form.element, `${c.id}-help`).textContent, evil);
  assert.equal(c.children[1].textContent, evil);
  assert.equal(find(form.element, (n) => n.tagName === "IMG").length, 0);
});

test("form: checkboxes", () => {
  const schema = { required: ["r"], properties: { r: { type: "boolean" }, o: { type: "boolean" }, d: { type: "boolean", default: true } } };
  const form = schemaForm(schema);
  assert.equal(control(form, "d").checked, true);
  assert.deepEqual(form.value(), { r: false, d: true });
  control(form, "d").checked = false;
  control(form, "o").checked = true;
  assert.deepEqual(form.value(), { r: false, o: true, d: false });
  const c = control(form, "r");
  assert.equal(c.parentNode.children[0], c, "the box comes before its label");
});

test("form: an optional nested object left empty is left out", () => {
  const form = schemaForm(executor);
  assert.ok(!("opt" in form.value()));
  control(form, "opt.z").value = "z";
  assert.deepEqual(form.value().opt, { z: "z" });
});

test("form: $refs are followed, a recursive one ends in a JSON textarea", () => {
  const schema = {
    $defs: { node: { type: "object", title: "Node", properties: { name: { type: "string" }, next: { $ref: "#/$defs/node" } } } },
    properties: { head: { $ref: "#/$defs/node", description: "first" } },
  };
  const form = schemaForm(schema);
  assert.equal(byId(form.element, "f-head").tagName, "FIELDSET");
  assert.equal(byId(form.element, "f-head-help").textContent, "first");
  assert.equal(control(form, "head.name").tagName, "INPUT");
  assert.equal(control(form, "head.next").getAttribute("class"), "json");
  control(form, "head.next").value = '{"name": "b"}';
  assert.deepEqual(form.value(), { head: { next: { name: "b" } } });
  const self = schemaForm({ properties: { a: { type: "string" }, child: { $ref: "#" } } });
  assert.equal(control(self, "child.a").tagName, "INPUT");
  assert.equal(control(self, "child.child").getAttribute("class"), "json");
  const missing = schemaForm({ properties: { a: { $ref: "#/nope" } } });
  assert.equal(control(missing, "a").getAttribute("class"), "json");
});

test("form: showErrors marks fields, lists the rest at the top, and replaces earlier errors", () => {
  const form = schemaForm(executor);
  control(form, "name").value = "b";
  control(form, "tags").value = '["a", 1]';
  control(form, "count").value = "0";
  control(form, "map").value = '{"k": 1}';
  const problems = validate(executor, form.value());
  assert.deepEqual(problems, [
    { path: "cfg", message: "missing properties: 'x'" },
    { path: "count", message: "must be >= 1 but found 0" },
    { path: "map.k", message: "expected string, but got number" },
    { path: "name", message: "length must be >= 2, but got 1" },
    { path: "tags.1", message: "expected string, but got number" },
  ]);
  form.showErrors([...problems, { path: "", message: "additionalProperties 'zz' not allowed" }, { path: "cfg", message: "missing properties: 'x', 'w'" }]);
  const name = control(form, "name");
  assert.equal(name.getAttribute("aria-invalid"), "true");
  assert.equal(name.getAttribute("aria-describedby"), "f-name-help f-name-error");
  assert.equal(byId(form.element, "f-name-error").textContent, "length must be >= 2, but got 1");
  assert.equal(control(form, "count").getAttribute("aria-describedby"), "f-count-error");
  assert.equal(byId(form.element, "f-cfg_x-error").textContent, "requiredrequired");
  assert.equal(byId(form.element, "f-tags-error").textContent, "1: expected string, but got number");
  assert.equal(byId(form.element, "f-map-error").textContent, "k: expected string, but got number");
  const top = form.element.children[0];
  assert.equal(top.getAttribute("class"), "form-errors");
  assert.equal(top.getAttribute("role"), "alert");
  assert.deepEqual(top.children[0].children.map((li) => li.textContent), ["(top level): additionalProperties 'zz' not allowed", "cfg: missing properties: 'w'"]);
  assert.equal(control(form, "ratio").getAttribute("aria-invalid"), null);

  form.showErrors([{ path: "ratio", message: "bad" }]);
  assert.equal(find(form.element, (n) => n.getAttribute("class") === "form-errors").length, 0, "the top list is gone");
  assert.equal(find(form.element, (n) => n.getAttribute("class") === "field-error").length, 1);
  assert.equal(name.getAttribute("aria-invalid"), null);
  assert.equal(name.getAttribute("aria-describedby"), "f-name-help");
  assert.equal(control(form, "count").getAttribute("aria-describedby"), null);
  assert.equal(control(form, "ratio").getAttribute("aria-describedby"), "f-ratio-error");
  form.showErrors([]);
  assert.equal(find(form.element, (n) => n.getAttribute("class") === "field-error").length, 0);
});

test("form: showErrors reads quoted property names", () => {
  const schema = { required: ["it's", 'a"b', "c\\d"], properties: { "it's": { type: "string" }, 'a"b': { type: "string" }, "c\\d": { type: "string" } } };
  const form = schemaForm(schema);
  const problems = validate(schema, form.value());
  assert.deepEqual(problems, [{ path: "", message: `missing properties: 'it\\'s', 'a"b', 'c\\\\d'` }]);
  form.showErrors(problems);
  for (const p of ["it's", 'a"b', "c\\d"]) assert.equal(control(form, p).getAttribute("aria-invalid"), "true", p);
  assert.equal(find(form.element, (n) => n.getAttribute("class") === "form-errors").length, 0);
});

test("form: setValue draws the form again holding the value", () => {
  const form = schemaForm(executor);
  form.showErrors([{ path: "name", message: "x" }]);
  form.setValue({ name: "zed", count: 4, cfg: { x: "1" }, on: true });
  assert.equal(control(form, "name").value, "zed");
  assert.equal(control(form, "name").getAttribute("aria-invalid"), null);
  assert.deepEqual(form.value(), { name: "zed", count: 4, cfg: { x: "1" }, on: true, keep: true });
  form.setValue({ name: [1] });
  assert.equal(control(form, "name").getAttribute("class"), "json");
  assert.equal(control(form, "name").id, "f-name", "ids are the same after a redraw");
});
