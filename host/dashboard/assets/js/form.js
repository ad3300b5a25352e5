// A form generated from a JSON Schema, for the dashboard's pages (an executor's inputs,
// a task's input schema shown read-only).
//
// What is drawn: an object schema with "properties" becomes one field per property
// (nested objects in a <fieldset>); strings are text inputs (a <select> for "enum" or
// "const", a <textarea> for long text: maxLength > 200 or format "textarea"); numbers
// and integers are number inputs; booleans are checkboxes. Everything else (arrays,
// anyOf/oneOf/allOf/not/if, several types, objects without properties or open to
// additional properties, recursive $refs, an initial value a field cannot show) is a
// <textarea> holding JSON, so no value is ever beyond the form. A root schema without
// properties is one JSON <textarea> for the whole value.
//
// Pitfalls: titles and descriptions come from plugins and are untrusted, so every node
// is built with createElement and textContent, never innerHTML. Empty fields are left
// out of value(), required ones too: a required field left empty is then reported by
// validate as "missing properties: 'x'", which showErrors shows under that field. A
// checkbox without a value starts as its default; unchecked, an optional one is left
// out unless its default is true (then it is false, so that the default does not turn
// it back on).

import { defaultValue, jsonEqual, jsonType, resolveRef } from "./schema.js";

/**
 * @typedef {{path: string, message: string}} Problem
 * What validate (schema.js) returns, and the server's problems: dotted path from the
 * root ("" for the root), reason.
 */

/**
 * @typedef {object} SchemaForm
 * @property {HTMLDivElement} element the form's <div class="schema-form">, to insert
 *   into the page.
 * @property {() => unknown} value the JSON value the form holds now: an object for a
 *   schema with properties (empty fields left out), else the parsed JSON textarea
 *   (undefined when it is empty). Throws an Error when a field cannot be read (a JSON
 *   textarea that does not parse, a number input holding something else); its message
 *   names every such field by label and path, and its `errors` property lists them as
 *   Problems, ready for showErrors.
 * @property {(v: unknown) => void} setValue draws the form again holding v (fields
 *   chosen for v as for an initial value); earlier errors are cleared.
 * @property {(errors: Problem[]) => void} showErrors marks the fields of errors, in
 *   place of any earlier ones; see the module comment.
 */

/**
 * Builds a form for schema.
 *
 * Guarantees: every control has a <label for> naming it (the property's title, else its
 * name; required ones end in an aria-hidden "*" and carry aria-required="true"); a
 * description is help text the control names in aria-describedby; ids are
 * `${idPrefix}-${path}` with every character other than letters, digits, "_" and "-"
 * replaced by "_" (the root JSON textarea is `${idPrefix}`), made unique within the form
 * by a "-2", "-3"… suffix; help and error texts are that id plus "-help" and "-error".
 * Every control carries data-path, the dotted path of its value. readOnly draws the
 * same controls disabled. initial undefined starts from defaultValue(schema).
 *
 * showErrors(errors) puts each error's message under the field of its path, sets
 * aria-invalid="true" on that control and adds the message to its aria-describedby;
 * "missing properties: 'a', 'b'" at an object's path marks the fields a and b
 * ("required"); an error inside a JSON textarea's value (path "tags.0" for the field
 * "tags") marks the textarea, the message prefixed by the rest of the path ("0: …").
 * Errors with no field are listed at the top of the form in a role="alert" box.
 *
 * @param {unknown} schema a JSON Schema (local $refs are followed)
 * @param {{idPrefix?: string, initial?: unknown, readOnly?: boolean}} [options]
 * @returns {SchemaForm}
 */
export function schemaForm(schema, { idPrefix = "f", initial, readOnly = false } = {}) {
  const element = el("div", { class: "schema-form" });
  let state;
  const draw = (value) => {
    state = render(schema, value, { idPrefix, readOnly });
    element.replaceChildren(...state.nodes);
  };
  draw(initial === undefined ? defaultValue(schema) : initial);
  return {
    element,
    value: () => readAll(state),
    setValue: (v) => draw(v),
    showErrors: (errors) => showErrors(state, element, errors),
  };
}

// ---- drawing ----

// render draws schema holding value: {nodes (to put in the form), root (the value's
// reader), fields (by dotted path), shown (errors shown now)}.
const render = (schema, value, { idPrefix, readOnly }) => {
  const ctx = { root: schema, idPrefix, readOnly, ids: new Set(), fields: new Map(), refs: new Set() };
  const { schema: s, refs } = deref(ctx, schema);
  const holder = el("div", { class: "schema-form-fields" });
  let root;
  if (refs !== null && kindOf(s, value) === "object") {
    root = withRefs(ctx, refs, () => drawProperties(ctx, s, value, [], holder));
  } else {
    root = drawJSON(ctx, s, value, { path: [], name: "Value", required: false, parent: holder });
  }
  return { nodes: [holder], root, fields: ctx.fields, shown: [] };
};

// drawProperties draws a field per property of s into parent; its reader returns the
// object of the non-empty fields.
const drawProperties = (ctx, s, value, path, parent) => {
  const required = new Set(Array.isArray(s.required) ? s.required : []);
  const children = Object.entries(s.properties).map(([name, sub]) => {
    const v = jsonType(value) === "object" ? value[name] : undefined;
    return [name, drawProperty(ctx, sub, v, { path: [...path, name], name, required: required.has(name), parent })];
  });
  return (bad) => {
    const out = {};
    for (const [name, read] of children) {
      const v = read(bad);
      if (v !== undefined) out[name] = v;
    }
    return out;
  };
};

// drawProperty draws one property's field into parent and returns its reader, which
// gives undefined for an empty field.
const drawProperty = (ctx, schema, value, field) => {
  const { schema: s, refs } = deref(ctx, schema);
  if (refs === null) return drawJSON(ctx, s, value, field); // unresolvable or recursive $ref
  return withRefs(ctx, refs, () => {
    switch (kindOf(s, value)) {
      case "object":
        return drawObject(ctx, s, value, field);
      case "select":
        return drawSelect(ctx, s, value, field);
      case "text":
        return drawText(ctx, s, value, field, "input");
      case "textarea":
        return drawText(ctx, s, value, field, "textarea");
      case "number":
        return drawNumber(ctx, s, value, field);
      case "checkbox":
        return drawCheckbox(ctx, s, value, field);
      default:
        return drawJSON(ctx, s, value, field);
    }
  });
};

// kindOf chooses the control for s holding value (undefined: no value yet).
const kindOf = (s, value) => {
  if (!isPlainObject(s)) return "json";
  if (["anyOf", "oneOf", "allOf", "not", "if", "$ref"].some((k) => s[k] !== undefined)) return "json";
  const choices = choicesOf(s);
  if (choices) return value === undefined || choices.some((c) => jsonEqual(c, value)) ? "select" : "json";
  const type = Array.isArray(s.type) && s.type.length === 1 ? s.type[0] : s.type;
  const fits = (t) => value === undefined || jsonType(value) === t;
  switch (type) {
    case "string":
      if (!fits("string")) return "json";
      return s.maxLength > 200 || s.format === "textarea" ? "textarea" : "text";
    case "number":
    case "integer":
      return fits("number") ? "number" : "json";
    case "boolean":
      return fits("boolean") ? "checkbox" : "json";
    case "object":
    case undefined:
      return drawableObject(s, value) ? "object" : "json";
    default:
      return "json";
  }
};

// drawableObject: fields can show every property s allows and every one value holds.
const drawableObject = (s, value) => {
  if (!isPlainObject(s.properties) || Object.keys(s.properties).length === 0) return false;
  if (s.patternProperties !== undefined) return false;
  if (s.additionalProperties !== undefined && s.additionalProperties !== false) return false;
  if (value === undefined) return true;
  return jsonType(value) === "object" && Object.keys(value).every((k) => Object.hasOwn(s.properties, k));
};

const choicesOf = (s) => {
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum;
  if (Object.hasOwn(s, "const")) return [s.const];
  return undefined;
};

const drawObject = (ctx, s, value, field) => {
  const id = allocateId(ctx, field.path);
  const help = helpText(s, id);
  const box = el("fieldset", { class: "field-group", id, "data-path": dotted(field.path), "aria-describedby": help && help.id });
  box.append(labelText(el("legend"), s, field), ...(help ? [help] : []));
  field.parent.appendChild(box);
  const read = drawProperties(ctx, s, value, field.path, box);
  return (bad) => {
    const v = read(bad);
    return field.required || Object.keys(v).length > 0 ? v : undefined;
  };
};

const drawSelect = (ctx, s, value, field) => {
  const choices = choicesOf(s);
  const control = el("select");
  control.appendChild(el("option", { value: "" }, field.required ? "(choose one)" : "(none)"));
  for (const c of choices) {
    control.appendChild(el("option", { value: JSON.stringify(c) }, typeof c === "string" ? c : JSON.stringify(c)));
  }
  const chosen = choices.findIndex((c) => value !== undefined && jsonEqual(c, value));
  control.value = chosen < 0 ? "" : JSON.stringify(choices[chosen]);
  addField(ctx, s, field, control);
  return () => (control.value === "" ? undefined : JSON.parse(control.value));
};

const drawText = (ctx, s, value, field, tag) => {
  const control = el(tag, tag === "input" ? { type: "text" } : { rows: 6 });
  control.value = value ?? "";
  addField(ctx, s, field, control);
  return () => (control.value === "" ? undefined : control.value);
};

const drawNumber = (ctx, s, value, field) => {
  const integer = s.type === "integer" || (Array.isArray(s.type) && s.type[0] === "integer");
  const step = jsonType(s.multipleOf) === "number" && s.multipleOf > 0 ? s.multipleOf : integer ? 1 : "any";
  const control = el("input", {
    type: "number",
    min: jsonType(s.minimum) === "number" ? s.minimum : undefined,
    max: jsonType(s.maximum) === "number" ? s.maximum : undefined,
    step,
  });
  control.value = value === undefined ? "" : String(value);
  const info = addField(ctx, s, field, control);
  return (bad) => {
    const text = control.value.trim();
    const n = Number(text);
    if (control.validity?.badInput || (text !== "" && !Number.isFinite(n))) {
      bad.push({ path: dotted(field.path), message: "not a number", label: info.label });
      return undefined;
    }
    return text === "" ? undefined : n;
  };
};

const drawCheckbox = (ctx, s, value, field) => {
  const control = el("input", { type: "checkbox" });
  control.checked = value === undefined ? s.default === true : value === true;
  addField(ctx, s, field, control, { labelFirst: false });
  return () => {
    if (control.checked) return true;
    return field.required || s.default === true ? false : undefined;
  };
};

const drawJSON = (ctx, s, value, field) => {
  const control = el("textarea", { rows: 6, spellcheck: "false", class: "json" });
  control.value = value === undefined ? "" : JSON.stringify(value, null, 2);
  const info = addField(ctx, s, field, control, { hint: " (JSON)", json: true });
  return (bad) => {
    if (control.value.trim() === "") return undefined;
    try {
      return JSON.parse(control.value);
    } catch (e) {
      bad.push({ path: dotted(field.path), message: `not valid JSON: ${e.message}`, label: info.label });
      return undefined;
    }
  };
};

// addField puts a labelled control, with its help text, into the field's parent and
// records it for showErrors.
const addField = (ctx, s, field, control, { labelFirst = true, hint = "", json = false } = {}) => {
  const id = allocateId(ctx, field.path);
  const help = helpText(s, id);
  control.setAttribute("id", id);
  control.setAttribute("data-path", dotted(field.path));
  if (field.required) control.setAttribute("aria-required", "true");
  if (help) control.setAttribute("aria-describedby", help.id);
  if (ctx.readOnly) control.setAttribute("disabled", "");
  const label = labelText(el("label", { for: id }), s, field);
  if (hint) label.appendChild(el("span", { class: "field-hint" }, hint));
  const wrapper = el("div", { class: "field", "data-path": dotted(field.path) });
  wrapper.append(...(labelFirst ? [label, control] : [control, label]), ...(help ? [help] : []));
  field.parent.appendChild(wrapper);
  const info = { control, wrapper, id, help: help?.id, label: nameOf(s, field), json };
  ctx.fields.set(dotted(field.path), info);
  return info;
};

// labelText writes the field's name into node (a <label> or <legend>), with an
// aria-hidden "*" when it is required.
const labelText = (node, s, field) => {
  node.appendChild(document.createTextNode(nameOf(s, field)));
  if (field.required) node.appendChild(el("span", { class: "required", "aria-hidden": "true" }, " *"));
  return node;
};

const nameOf = (s, field) => (isPlainObject(s) && typeof s.title === "string" && s.title !== "" ? s.title : field.name);

const helpText = (s, id) => {
  if (!isPlainObject(s) || typeof s.description !== "string" || s.description === "") return undefined;
  return el("div", { class: "field-help", id: `${id}-help` }, s.description);
};

// allocateId gives the path's id, unique within the form together with its -help and
// -error ids.
const allocateId = (ctx, path) => {
  const base = path.length === 0 ? ctx.idPrefix : `${ctx.idPrefix}-${path.join(".").replace(/[^A-Za-z0-9_-]/g, "_")}`;
  const taken = (id) => ctx.ids.has(id) || ctx.ids.has(`${id}-help`) || ctx.ids.has(`${id}-error`);
  let id = base;
  for (let n = 2; taken(id); n++) id = `${base}-${n}`;
  for (const x of [id, `${id}-help`, `${id}-error`]) ctx.ids.add(x);
  return id;
};

// deref follows s's $refs: {schema, refs} with the refs followed, the referring
// schema's own keywords (title, description…) kept over the target's. refs is null when
// a $ref cannot be followed (unresolvable, or already being drawn: a recursive schema),
// and schema is then s itself.
const deref = (ctx, s) => {
  const refs = [];
  let at = s;
  while (isPlainObject(at) && at.$ref !== undefined) {
    const target = resolveRef(ctx.root, at.$ref);
    if (target.error || ctx.refs.has(at.$ref) || refs.includes(at.$ref)) return { schema: s, refs: null };
    refs.push(at.$ref);
    const { $ref, ...own } = at;
    at = isPlainObject(target.schema) ? { ...target.schema, ...own } : target.schema;
  }
  return { schema: at, refs };
};

// withRefs runs draw with refs marked as being drawn, so that a recursive schema ends
// in a JSON textarea instead of nesting for ever.
const withRefs = (ctx, refs, draw) => {
  for (const r of refs) ctx.refs.add(r);
  try {
    return draw();
  } finally {
    for (const r of refs) ctx.refs.delete(r);
  }
};

// ---- reading ----

const readAll = (state) => {
  const bad = [];
  const v = state.root(bad);
  if (bad.length > 0) {
    const err = new Error(bad.map((b) => `${b.label} (${b.path || "top level"}): ${b.message}`).join("; "));
    err.errors = bad.map(({ path, message }) => ({ path, message }));
    throw err;
  }
  return v;
};

// ---- errors ----

const showErrors = (state, element, errors) => {
  clearErrors(state);
  const byField = new Map();
  const unplaced = [];
  for (const e of Array.isArray(errors) ? errors : []) {
    for (const [path, message] of placements(state.fields, String(e?.path ?? ""), String(e?.message ?? ""))) {
      const target = fieldFor(state.fields, path);
      if (!target) {
        unplaced.push([path, message]);
        continue;
      }
      const msg = target.rest === "" ? message : `${target.rest}: ${message}`;
      byField.set(target.info, [...(byField.get(target.info) ?? []), msg]);
    }
  }
  for (const [info, messages] of byField) markField(state, info, messages);
  if (unplaced.length > 0) {
    const box = el("div", { class: "form-errors", role: "alert" });
    const list = el("ul");
    for (const [path, message] of unplaced) list.appendChild(el("li", {}, `${path === "" ? "(top level)" : path}: ${message}`));
    box.appendChild(list);
    element.prepend(box);
    state.shown.push(() => box.remove());
  }
};

// placements splits "missing properties: 'a', 'b'" at path into "required" for the
// fields path.a and path.b that exist; any other error stays as it is.
const placements = (fields, path, message) => {
  const m = /^missing properties: (.*)$/.exec(message);
  if (!m) return [[path, message]];
  const child = (name) => (path === "" ? name : `${path}.${name}`);
  const names = [...m[1].matchAll(/'((?:[^'\\]|\\.)*)'/g)].map((x) => ({ quoted: x[0], path: child(unquote(x[1])) }));
  const out = names.filter((n) => fields.has(n.path)).map((n) => [n.path, "required"]);
  const rest = names.filter((n) => !fields.has(n.path));
  if (rest.length > 0) out.push([path, `missing properties: ${rest.map((n) => n.quoted).join(", ")}`]);
  return out;
};

// fieldFor finds the field showing path: the field of path itself, else the nearest
// JSON textarea holding it, with the rest of the path.
const fieldFor = (fields, path) => {
  if (fields.has(path)) return { info: fields.get(path), rest: "" };
  const parts = path === "" ? [] : path.split(".");
  for (let i = parts.length - 1; i >= 0; i--) {
    const info = fields.get(parts.slice(0, i).join("."));
    if (info?.json) return { info, rest: parts.slice(i).join(".") };
  }
  return undefined;
};

const markField = (state, info, messages) => {
  const box = el("div", { class: "field-error", id: `${info.id}-error` });
  for (const m of messages) box.appendChild(el("div", {}, m));
  info.wrapper.appendChild(box);
  info.control.setAttribute("aria-invalid", "true");
  info.control.setAttribute("aria-describedby", [info.help, box.getAttribute("id")].filter(Boolean).join(" "));
  state.shown.push(() => {
    box.remove();
    info.control.removeAttribute("aria-invalid");
    if (info.help) info.control.setAttribute("aria-describedby", info.help);
    else info.control.removeAttribute("aria-describedby");
  });
};

const clearErrors = (state) => {
  for (const undo of state.shown) undo();
  state.shown = [];
};

// ---- helpers ----

const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  if (text !== undefined) node.textContent = text;
  return node;
};

const dotted = (path) => path.join(".");

// unquote reads the inside of a quoted property name in a message (schema.js's quote,
// the server's Go quoting): backslash escapes of ', ", \\, control characters, \\xHH,
// \\uHHHH and \\UHHHHHHHH.
const unquote = (inner) => {
  const simple = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", a: "\x07" };
  const hex = { x: 2, u: 4, U: 8 };
  let out = "";
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c !== "\\" || i + 1 === inner.length) {
      out += c;
      continue;
    }
    const e = inner[++i];
    const digits = hex[e] ? inner.slice(i + 1, i + 1 + hex[e]) : "";
    const code = digits.length === hex[e] && /^[0-9a-fA-F]+$/.test(digits) ? parseInt(digits, 16) : -1;
    if (simple[e]) {
      out += simple[e];
    } else if (code >= 0 && code <= 0x10ffff) {
      out += String.fromCodePoint(code);
      i += digits.length;
    } else {
      out += e;
    }
  }
  return out;
};

function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
