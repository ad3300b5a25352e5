// JSON Schema validation in the browser, for the forms of the dashboard.
//
// The server is the authority: it validates with its own validator (draft 2020-12 for
// plugin schemas) and its messages are the ones that count. This module checks the same
// subset before anything is sent, so that a form can mark its fields at once, and words
// its problems like the server does ("missing properties: 'name'", "expected string, but
// got number"), with the same paths (dotted from the root, "" for the root itself).
//
// Supported keywords: type, enum, const, required, properties, additionalProperties,
// patternProperties, propertyNames, dependentRequired, dependentSchemas, minProperties,
// maxProperties, items (a schema, or the draft-07 tuple form with additionalItems),
// prefixItems, contains, minContains, maxContains, minItems, maxItems, uniqueItems,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, minLength,
// maxLength, pattern, allOf, anyOf, oneOf, not, if/then/else, boolean schemas and $ref
// inside the schema ("#", "#/$defs/x", "#/definitions/x", JSON-pointer escapes).
// Every other keyword (format, title, description, default, examples, …) is ignored,
// as the server ignores annotations.
//
// Messages differ from the server's in one way on purpose: the values of "enum" and
// "const" are written as JSON (value must be one of 1, null), where the server quotes
// numbers and writes null as <nil> (value must be one of "1", <nil>).
//
// Pitfalls: patterns are JavaScript regular expressions with the "u" flag, which accept
// and refuse a few things Go's RE2 does not; a pattern JavaScript cannot compile is a
// problem of the value it applies to, never an exception. Property names containing a
// "." make paths ambiguous, exactly as in the server's messages.

/**
 * @typedef {{path: string, message: string}} Problem
 * A reason why a value fails a schema: the failing value's dotted path ("" for the root,
 * "items.0.id") and the reason.
 */

/**
 * Validates value against schema.
 *
 * Guarantees: never throws for any schema or value (a bad schema, an unresolvable $ref, a
 * $ref loop, an invalid pattern or a value that is not JSON are reported as problems);
 * returns [] when value is valid; otherwise the failing leaves, sorted by path then
 * message, so the same failure always reads the same. When no alternative of an anyOf or
 * oneOf matches, the alternatives meant for another type of value are left out if one
 * for the value's own type says what is wrong inside it (as the server does).
 *
 * @param {unknown} schema a JSON Schema (an object or a boolean)
 * @param {unknown} value a JSON value (what JSON.parse returns)
 * @returns {Problem[]}
 */
export function validate(schema, value) {
  const ctx = { root: schema, regexps: new Map(), active: new Set() };
  return check(ctx, schema, value, [])
    .map((p) => ({ path: p.path.join("."), message: p.message }))
    .sort((a, b) => compare(a.path, b.path) || compare(a.message, b.message));
}

/**
 * A starting value for a form of schema: its "default", else its "const", else its
 * first "enum" value; for an object, {} holding the values known for its required
 * properties and the defaults of its optional ones; for an array, []; undefined when
 * nothing is known (a string, a number, a boolean without a default).
 *
 * Guarantees: never throws; returns a fresh copy (changing it never changes schema);
 * follows local $refs, and stops at a $ref loop.
 *
 * @param {unknown} schema a JSON Schema
 * @returns {unknown}
 */
export function defaultValue(schema) {
  return startOf({ root: schema, active: new Set() }, schema);
}

/**
 * Resolves a "$ref" inside root: "#" is root itself, "#/a/b" a JSON pointer (escapes
 * ~0 and ~1, percent-encoding). Anything else is an error: schemas are self-contained.
 *
 * @param {unknown} root
 * @param {unknown} ref
 * @returns {{schema: unknown} | {error: string}}
 */
export function resolveRef(root, ref) {
  if (typeof ref !== "string") {
    return { error: `$ref must be a string` };
  }
  if (!ref.startsWith("#")) {
    return { error: `cannot resolve $ref ${quote(ref)}: only references inside the schema ("#/…") are supported` };
  }
  let fragment;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    return { error: `cannot resolve $ref ${quote(ref)}: bad percent-encoding` };
  }
  if (fragment === "") {
    return { schema: root };
  }
  if (!fragment.startsWith("/")) {
    return { error: `cannot resolve $ref ${quote(ref)}: anchors are not supported` };
  }
  let at = root;
  for (const raw of fragment.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (at === null || typeof at !== "object" || !Object.hasOwn(at, key)) {
      return { error: `cannot resolve $ref ${quote(ref)}: not found in the schema` };
    }
    at = at[key];
  }
  return { schema: at };
}

/**
 * The JSON type of v: "null", "boolean", "number", "string", "array" or "object";
 * undefined for anything JSON cannot hold (undefined, NaN, Infinity, functions, class
 * instances…).
 *
 * @param {unknown} v
 * @returns {string | undefined}
 */
export function jsonType(v) {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return "boolean";
    case "number":
      return Number.isFinite(v) ? "number" : undefined;
    case "string":
      return "string";
    case "object":
      if (Array.isArray(v)) return "array";
      return isPlainObject(v) ? "object" : undefined;
    default:
      return undefined;
  }
}

/**
 * Whether a and b are equal JSON values: numbers by value, arrays item by item, objects
 * by their keys and values whatever the keys' order.
 *
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
export function jsonEqual(a, b) {
  const ta = jsonType(a);
  if (ta !== jsonType(b)) return false;
  if (ta === "array") {
    return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (ta === "object") {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

/**
 * Quotes s as the server does in its messages: 'name', with ' and control characters
 * escaped.
 *
 * @param {string} s
 * @returns {string}
 */
export function quote(s) {
  const inner = JSON.stringify(String(s)).slice(1, -1).replaceAll('\\"', '"').replaceAll("'", "\\'");
  return `'${inner}'`;
}

// ---- validation ----

// A problem while validating: path as segments, the keyword that failed.
const problem = (path, keyword, message) => ({ path, keyword, message });

const check = (ctx, s, v, path) => {
  if (s === true) return [];
  if (s === false) return [problem(path, "false", "not allowed")];
  if (!isPlainObject(s)) {
    return [problem(path, "schema", `invalid schema: expected an object or a boolean, but got ${jsonType(s) ?? typeof s}`)];
  }
  const vt = jsonType(v);
  if (vt === undefined) {
    return [problem(path, "value", `not a JSON value: ${describe(v)}`)];
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((t) => t === vt || (t === "integer" && vt === "number" && Number.isInteger(v)))) {
      return [problem(path, "type", `expected ${types.join(" or ")}, but got ${vt}`)];
    }
  }
  const at = { ctx, s, v, path };
  return [
    ...constant(at),
    ...enumeration(at),
    ...(vt === "object" ? objectKeywords(at) : []),
    ...(vt === "array" ? arrayKeywords(at) : []),
    ...(vt === "string" ? stringKeywords(at) : []),
    ...(vt === "number" ? numberKeywords(at) : []),
    ...reference(at),
    ...combinators(at),
    ...conditional(at),
  ];
};

const constant = ({ s, v, path }) => {
  if (!Object.hasOwn(s, "const") || jsonEqual(v, s.const)) return [];
  const t = jsonType(s.const);
  const msg = t === "object" || t === "array" ? "const failed" : `value must be ${JSON.stringify(s.const)}`;
  return [problem(path, "const", msg)];
};

const enumeration = ({ s, v, path }) => {
  if (!Array.isArray(s.enum) || s.enum.some((x) => jsonEqual(v, x))) return [];
  let msg = "enum failed";
  if (s.enum.every((x) => !["object", "array"].includes(jsonType(x)))) {
    const all = s.enum.map((x) => JSON.stringify(x));
    msg = all.length === 1 ? `value must be ${all[0]}` : `value must be one of ${all.join(", ")}`;
  }
  return [problem(path, "enum", msg)];
};

const objectKeywords = (at) => {
  const { ctx, s, v, path } = at;
  const keys = Object.keys(v);
  const out = [];
  if (isCount(s.minProperties) && keys.length < s.minProperties) {
    out.push(problem(path, "minProperties", `minimum ${s.minProperties} properties allowed, but found ${keys.length} properties`));
  }
  if (isCount(s.maxProperties) && keys.length > s.maxProperties) {
    out.push(problem(path, "maxProperties", `maximum ${s.maxProperties} properties allowed, but found ${keys.length} properties`));
  }
  if (Array.isArray(s.required)) {
    const missing = s.required.filter((k) => !Object.hasOwn(v, k));
    if (missing.length > 0) {
      out.push(problem(path, "required", `missing properties: ${missing.map(quote).join(", ")}`));
    }
  }
  out.push(...dependentRequired(at), ...dependentSchemas(at));
  const evaluated = new Set();
  if (isPlainObject(s.properties)) {
    for (const [k, sub] of Object.entries(s.properties)) {
      if (Object.hasOwn(v, k)) {
        evaluated.add(k);
        out.push(...check(ctx, sub, v[k], [...path, k]));
      }
    }
  }
  if (isPlainObject(s.patternProperties)) {
    for (const [pattern, sub] of Object.entries(s.patternProperties)) {
      const re = regexp(ctx, pattern);
      if (re.error) {
        out.push(problem(path, "patternProperties", re.error));
        continue;
      }
      for (const k of keys.filter((k) => re.regexp.test(k))) {
        evaluated.add(k);
        out.push(...check(ctx, sub, v[k], [...path, k]));
      }
    }
  }
  const extra = keys.filter((k) => !evaluated.has(k));
  if (s.additionalProperties === false && extra.length > 0) {
    out.push(problem(path, "additionalProperties", `additionalProperties ${extra.map(quote).join(", ")} not allowed`));
  } else if (s.additionalProperties !== undefined) {
    for (const k of extra) out.push(...check(ctx, s.additionalProperties, v[k], [...path, k]));
  }
  if (s.propertyNames !== undefined) {
    for (const k of keys) out.push(...check(ctx, s.propertyNames, k, [...path, k]));
  }
  return out;
};

const dependentRequired = ({ s, v, path }) => {
  if (!isPlainObject(s.dependentRequired)) return [];
  const out = [];
  for (const [name, needs] of Object.entries(s.dependentRequired)) {
    if (!Object.hasOwn(v, name) || !Array.isArray(needs)) continue;
    for (const need of needs.filter((n) => !Object.hasOwn(v, n))) {
      out.push(problem(path, "dependentRequired", `property ${quote(need)} is required, if ${quote(name)} property exists`));
    }
  }
  return out;
};

const dependentSchemas = ({ ctx, s, v, path }) => {
  if (!isPlainObject(s.dependentSchemas)) return [];
  return Object.entries(s.dependentSchemas)
    .filter(([name]) => Object.hasOwn(v, name))
    .flatMap(([, sub]) => check(ctx, sub, v, path));
};

const arrayKeywords = (at) => {
  const { ctx, s, v, path } = at;
  const out = [];
  if (isCount(s.minItems) && v.length < s.minItems) {
    out.push(problem(path, "minItems", `minimum ${s.minItems} items required, but found ${v.length} items`));
  }
  if (isCount(s.maxItems) && v.length > s.maxItems) {
    out.push(problem(path, "maxItems", `maximum ${s.maxItems} items required, but found ${v.length} items`));
  }
  if (s.uniqueItems === true) {
    const pair = firstEqualPair(v);
    if (pair) out.push(problem(path, "uniqueItems", `items at index ${pair[0]} and ${pair[1]} are equal`));
  }
  out.push(...itemKeywords(at), ...containsKeywords(at));
  return out;
};

// items and prefixItems (2020-12), or the draft-07 tuple form: items as an array of
// schemas, additionalItems for the rest.
const itemKeywords = ({ ctx, s, v, path }) => {
  const draft7 = Array.isArray(s.items);
  const tuple = draft7 ? s.items : Array.isArray(s.prefixItems) ? s.prefixItems : [];
  const rest = draft7 ? s.additionalItems : s.items;
  const closed = draft7 && rest === false; // one problem for the array, as the server says
  const out = [];
  v.forEach((item, i) => {
    if (i < tuple.length) {
      out.push(...check(ctx, tuple[i], item, [...path, String(i)]));
    } else if (rest !== undefined && !closed) {
      out.push(...check(ctx, rest, item, [...path, String(i)]));
    }
  });
  if (closed && v.length > tuple.length) {
    out.push(problem(path, "additionalItems", `only ${tuple.length} items are allowed, but found ${v.length} items`));
  }
  return out;
};

// contains: too few matching items are reported as the other items' problems (what
// they lack), or as the count when there are none, as the server does.
const containsKeywords = ({ ctx, s, v, path }) => {
  if (s.contains === undefined) return [];
  const results = v.map((item, i) => check(ctx, s.contains, item, [...path, String(i)]));
  const matched = results.filter((r) => r.length === 0).length;
  const min = isCount(s.minContains) ? s.minContains : 1;
  const out = [];
  if (matched < min) {
    const causes = results.flat();
    out.push(...(causes.length > 0 ? causes : [problem(path, "minContains", `valid must be >= ${min}, but got ${matched}`)]));
  }
  if (isCount(s.maxContains) && matched > s.maxContains) {
    out.push(problem(path, "maxContains", `valid must be <= ${s.maxContains}, but got ${matched}`));
  }
  return out;
};

const stringKeywords = ({ ctx, s, v, path }) => {
  const out = [];
  const length = [...v].length; // code points, like the server
  if (isCount(s.minLength) && length < s.minLength) {
    out.push(problem(path, "minLength", `length must be >= ${s.minLength}, but got ${length}`));
  }
  if (isCount(s.maxLength) && length > s.maxLength) {
    out.push(problem(path, "maxLength", `length must be <= ${s.maxLength}, but got ${length}`));
  }
  if (s.pattern !== undefined) {
    const re = regexp(ctx, s.pattern);
    if (re.error) {
      out.push(problem(path, "pattern", re.error));
    } else if (!re.regexp.test(v)) {
      out.push(problem(path, "pattern", `does not match pattern ${quote(s.pattern)}`));
    }
  }
  return out;
};

const numberKeywords = ({ s, v, path }) => {
  const bounds = [
    ["minimum", (b) => v < b, ">="],
    ["exclusiveMinimum", (b) => v <= b, ">"],
    ["maximum", (b) => v > b, "<="],
    ["exclusiveMaximum", (b) => v >= b, "<"],
  ];
  const out = bounds
    .filter(([kw, fails]) => jsonType(s[kw]) === "number" && fails(s[kw]))
    .map(([kw, , op]) => problem(path, kw, `must be ${op} ${s[kw]} but found ${v}`));
  if (jsonType(s.multipleOf) === "number" && s.multipleOf > 0 && !isMultipleOf(v, s.multipleOf)) {
    out.push(problem(path, "multipleOf", `${v} not multipleOf ${s.multipleOf}`));
  }
  return out;
};

// $ref applies the schema it names to the value in place. Following the same $ref for
// the same value again is a loop that would never end: it is reported, not followed.
const reference = ({ ctx, s, v, path }) => {
  if (s.$ref === undefined) return [];
  const target = resolveRef(ctx.root, s.$ref);
  if (target.error) return [problem(path, "$ref", target.error)];
  const key = `${s.$ref}\u0000${JSON.stringify(path)}`;
  if (ctx.active.has(key)) {
    return [problem(path, "$ref", `$ref ${quote(s.$ref)} loops without reaching a value`)];
  }
  ctx.active.add(key);
  try {
    return check(ctx, target.schema, v, path);
  } finally {
    ctx.active.delete(key);
  }
};

const combinators = ({ ctx, s, v, path }) => {
  const out = [];
  if (s.not !== undefined && check(ctx, s.not, v, path).length === 0) {
    out.push(problem(path, "not", "not failed"));
  }
  if (Array.isArray(s.allOf)) {
    for (const sub of s.allOf) out.push(...check(ctx, sub, v, path));
  }
  if (Array.isArray(s.anyOf) && s.anyOf.length > 0) {
    const results = s.anyOf.map((sub) => check(ctx, sub, v, path));
    if (!results.some((r) => r.length === 0)) out.push(...alternatives(results, path));
  }
  if (Array.isArray(s.oneOf) && s.oneOf.length > 0) {
    const results = s.oneOf.map((sub) => check(ctx, sub, v, path));
    const matched = results.flatMap((r, i) => (r.length === 0 ? [i] : []));
    if (matched.length === 0) {
      out.push(...alternatives(results, path));
    } else if (matched.length > 1) {
      out.push(problem(path, "oneOf", `valid against schemas at indexes ${matched[0]} and ${matched[1]}`));
    }
  }
  return out;
};

// The problems of failed alternatives: an alternative that only says the value has
// another type ("expected object, but got array") is left out when another one says
// what is wrong inside the value.
const alternatives = (results, path) => {
  const here = JSON.stringify(path);
  const wrongType = (r) => r.every((p) => p.keyword === "type" && JSON.stringify(p.path) === here);
  const telling = results.filter((r) => !wrongType(r));
  return (telling.length > 0 ? telling : results).flat();
};

const conditional = ({ ctx, s, v, path }) => {
  if (s.if === undefined) return [];
  const branch = check(ctx, s.if, v, path).length === 0 ? s.then : s.else;
  return branch === undefined ? [] : check(ctx, branch, v, path);
};

// regexp compiles pattern once per validation: {regexp} or {error} naming the pattern.
const regexp = (ctx, pattern) => {
  if (!ctx.regexps.has(pattern)) {
    let entry;
    try {
      if (typeof pattern !== "string") throw new Error("not a string");
      entry = { regexp: new RegExp(pattern, "u") };
    } catch (e) {
      entry = { error: `invalid pattern ${quote(String(pattern))}: ${e.message}` };
    }
    ctx.regexps.set(pattern, entry);
  }
  return ctx.regexps.get(pattern);
};

// ---- numbers ----

// isMultipleOf decides exactly on the values' shortest decimal forms (what JSON text
// holds), so that 0.3 is a multiple of 0.1 although 0.3 / 0.1 is not an integer in
// floating point.
const isMultipleOf = (v, m) => {
  const a = decimal(v);
  const b = decimal(m);
  const scale = Math.max(a.scale, b.scale);
  const x = a.digits * 10n ** BigInt(scale - a.scale);
  const y = b.digits * 10n ** BigInt(scale - b.scale);
  return x % y === 0n;
};

// decimal writes a finite number as digits × 10^-scale, scale >= 0.
const decimal = (n) => {
  const [mantissa, exp = "0"] = String(n).toLowerCase().split("e");
  const [whole, frac = ""] = mantissa.split(".");
  let digits = BigInt(whole + frac);
  let scale = frac.length - Number(exp);
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { digits, scale };
};

// ---- defaults ----

const startOf = (ctx, s) => {
  if (!isPlainObject(s)) return undefined;
  if (Object.hasOwn(s, "default")) return structuredClone(s.default);
  if (Object.hasOwn(s, "const")) return structuredClone(s.const);
  if (Array.isArray(s.enum) && s.enum.length > 0) return structuredClone(s.enum[0]);
  if (s.$ref !== undefined) return followRef(ctx, s.$ref, (target) => startOf(ctx, target));
  if (s.type === "array") return [];
  if (s.type === "object" || (s.type === undefined && isPlainObject(s.properties))) return objectStart(ctx, s);
  return undefined;
};

// objectStart is {} with the values known for required properties and the defaults of
// optional ones.
const objectStart = (ctx, s) => {
  const out = {};
  const required = new Set(Array.isArray(s.required) ? s.required : []);
  for (const [k, sub] of Object.entries(isPlainObject(s.properties) ? s.properties : {})) {
    const v = required.has(k) ? startOf(ctx, sub) : declaredDefault(ctx, sub);
    if (v !== undefined) out[k] = v;
  }
  return out;
};

// declaredDefault is the "default" of s or of the schema its $ref names.
const declaredDefault = (ctx, s) => {
  if (!isPlainObject(s)) return undefined;
  if (Object.hasOwn(s, "default")) return structuredClone(s.default);
  if (s.$ref === undefined) return undefined;
  return followRef(ctx, s.$ref, (target) => declaredDefault(ctx, target));
};

const followRef = (ctx, ref, fn) => {
  const target = resolveRef(ctx.root, ref);
  if (target.error || ctx.active.has(ref)) return undefined;
  ctx.active.add(ref);
  try {
    return fn(target.schema);
  } finally {
    ctx.active.delete(ref);
  }
};

// ---- helpers ----

function isPlainObject(v) {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const isCount = (n) => Number.isInteger(n) && n >= 0;

const compare = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

const firstEqualPair = (items) => {
  for (let i = 1; i < items.length; i++) {
    for (let j = 0; j < i; j++) {
      if (jsonEqual(items[i], items[j])) return [j, i];
    }
  }
  return undefined;
};

const describe = (v) => {
  if (typeof v === "number") return String(v);
  if (v === undefined) return "undefined";
  if (typeof v === "object") return v.constructor?.name ?? "object";
  return typeof v;
};
