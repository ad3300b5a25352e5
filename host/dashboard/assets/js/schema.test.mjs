// Tests of schema.js: node --test host/dashboard/assets/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { validate, defaultValue, jsonEqual, resolveRef, quote } from "./schema.js";

// Each case: a schema, a value, and the problems wanted as [path, message] pairs in the
// order validate returns them (sorted by path, then message); [] means valid.
const cases = [
  // type
  ["type string ok", { type: "string" }, "a", []],
  ["type string bad", { type: "string" }, 1, [["", "expected string, but got number"]]],
  ["type integer ok", { type: "integer" }, 3, []],
  ["type integer 2.0 ok", { type: "integer" }, 2.0, []],
  ["type integer fraction", { type: "integer" }, 2.5, [["", "expected integer, but got number"]]],
  ["type number takes integers", { type: "number" }, 7, []],
  ["type array of types ok", { type: ["string", "null"] }, null, []],
  ["type array of types bad", { type: ["string", "null"] }, 1, [["", "expected string or null, but got number"]]],
  ["type null", { type: "null" }, false, [["", "expected null, but got boolean"]]],
  ["type boolean", { type: "boolean" }, "true", [["", "expected boolean, but got string"]]],
  ["type object vs array", { type: "object" }, [], [["", "expected object, but got array"]]],
  ["type array vs object", { type: "array" }, {}, [["", "expected array, but got object"]]],
  ["type failure hides the rest", { type: "string", minimum: 3, enum: ["x"] }, 1, [["", "expected string, but got number"]]],
  // enum, const
  ["enum ok", { enum: ["a", "b"] }, "b", []],
  ["enum bad", { enum: ["a", "b"] }, "c", [["", 'value must be one of "a", "b"']]],
  ["enum of one", { enum: [1] }, 2, [["", "value must be 1"]]],
  ["enum of objects, key order ignored", { enum: [{ a: 1, b: [1, 2] }] }, { b: [1, 2], a: 1 }, []],
  ["enum of objects bad", { enum: [{ a: 1 }, "x"] }, { a: 2 }, [["", "enum failed"]]],
  ["enum number equality", { enum: [1, null, true] }, 1.0, []],
  ["const ok", { const: "x" }, "x", []],
  ["const bad", { const: "x" }, "y", [["", 'value must be "x"']]],
  ["const number bad", { const: 0 }, false, [["", "value must be 0"]]],
  ["const object ok", { const: { a: [1, { b: 2 }] } }, { a: [1, { b: 2 }] }, []],
  ["const object bad", { const: { a: 1 } }, { a: 1, b: 1 }, [["", "const failed"]]],
  ["const array order matters", { const: [1, 2] }, [2, 1], [["", "const failed"]]],
  ["const null", { const: null }, null, []],
  // objects
  ["required ok", { required: ["a"] }, { a: null }, []],
  ["required bad", { required: ["a", "b", "c"] }, { b: 1 }, [["", "missing properties: 'a', 'c'"]]],
  ["required ignores non-objects", { required: ["a"] }, "x", []],
  ["required quotes names", { required: ["it's"] }, {}, [["", "missing properties: 'it\\'s'"]]],
  ["properties", { properties: { a: { type: "string" }, b: { type: "integer" } } }, { a: 1, b: 2 }, [["a", "expected string, but got number"]]],
  ["properties nested path", { properties: { o: { properties: { p: { minimum: 1 } } } } }, { o: { p: 0 } }, [["o.p", "must be >= 1 but found 0"]]],
  ["properties false", { properties: { a: false } }, { a: 1 }, [["a", "not allowed"]]],
  ["additionalProperties false", { properties: { a: {} }, additionalProperties: false }, { a: 1, x: 2, y: 3 }, [["", "additionalProperties 'x', 'y' not allowed"]]],
  ["additionalProperties false ok", { properties: { a: {} }, additionalProperties: false }, { a: 1 }, []],
  ["additionalProperties schema", { properties: { a: {} }, additionalProperties: { type: "number" } }, { a: "s", x: "s" }, [["x", "expected number, but got string"]]],
  ["additionalProperties skips patternProperties", { patternProperties: { "^x": {} }, additionalProperties: false }, { x1: 1, y: 1 }, [["", "additionalProperties 'y' not allowed"]]],
  ["patternProperties", { patternProperties: { "^n_": { type: "number" }, "_s$": { type: "string" } } }, { n_a: "x", b_s: 1, n_s: 1 }, [
    ["b_s", "expected string, but got number"],
    ["n_a", "expected number, but got string"],
    ["n_s", "expected string, but got number"],
  ]],
  ["patternProperties unicode", { patternProperties: { "^\\p{L}+$": { type: "integer" } } }, { "é": "x", "1": "y" }, [["é", "expected integer, but got string"]]],
  ["propertyNames", { propertyNames: { maxLength: 2 } }, { ab: 1, abc: 2 }, [["abc", "length must be <= 2, but got 3"]]],
  ["dependentRequired", { dependentRequired: { a: ["b", "c"] } }, { a: 1, c: 1 }, [["", "property 'b' is required, if 'a' property exists"]]],
  ["dependentSchemas", { dependentSchemas: { a: { required: ["b"] } } }, { a: 1 }, [["", "missing properties: 'b'"]]],
  ["minProperties", { minProperties: 2 }, { a: 1 }, [["", "minimum 2 properties allowed, but found 1 properties"]]],
  ["maxProperties", { maxProperties: 1 }, { a: 1, b: 2 }, [["", "maximum 1 properties allowed, but found 2 properties"]]],
  ["min/maxProperties ok", { minProperties: 1, maxProperties: 1 }, { a: 1 }, []],
  // arrays
  ["items", { items: { type: "string" } }, ["a", 1, "b", 2], [["1", "expected string, but got number"], ["3", "expected string, but got number"]]],
  ["items nested path", { properties: { items: { items: { properties: { id: { type: "string" } } } } } }, { items: [{ id: "a" }, { id: 1 }] }, [["items.1.id", "expected string, but got number"]]],
  ["prefixItems", { prefixItems: [{ type: "string" }, { type: "number" }] }, [1, "x", true], [["0", "expected string, but got number"], ["1", "expected number, but got string"]]],
  ["prefixItems then items", { prefixItems: [{ type: "string" }], items: { type: "number" } }, ["a", 1, "b"], [["2", "expected number, but got string"]]],
  ["prefixItems and items false", { prefixItems: [{}], items: false }, [1, 2], [["1", "not allowed"]]],
  ["draft-07 tuple items", { items: [{ type: "string" }], additionalItems: false }, ["a", "b"], [["", "only 1 items are allowed, but found 2 items"]]],
  ["draft-07 tuple additionalItems schema", { items: [{}], additionalItems: { type: "string" } }, [1, 2], [["1", "expected string, but got number"]]],
  ["minItems", { minItems: 2 }, [1], [["", "minimum 2 items required, but found 1 items"]]],
  ["maxItems", { maxItems: 1 }, [1, 2], [["", "maximum 1 items required, but found 2 items"]]],
  ["uniqueItems ok", { uniqueItems: true }, [1, "1", [1], { a: 1 }], []],
  ["uniqueItems bad", { uniqueItems: true }, [1, 2, 3, 2, 1], [["", "items at index 1 and 3 are equal"]]],
  ["uniqueItems objects by value", { uniqueItems: true }, [{ a: 1, b: 2 }, { b: 2, a: 1 }], [["", "items at index 0 and 1 are equal"]]],
  ["uniqueItems false", { uniqueItems: false }, [1, 1], []],
  ["contains", { contains: { type: "string" } }, [1, 2], [["0", "expected string, but got number"], ["1", "expected string, but got number"]]],
  ["contains empty array", { contains: { type: "string" } }, [], [["", "valid must be >= 1, but got 0"]]],
  ["minContains", { contains: { type: "string" }, minContains: 2 }, [1, "a"], [["0", "expected string, but got number"]]],
  ["contains ok", { contains: { type: "string" } }, [1, "a"], []],
  ["min/maxContains", { contains: { const: 1 }, minContains: 2, maxContains: 2 }, [1, 1, 1], [["", "valid must be <= 2, but got 3"]]],
  // strings
  ["minLength", { minLength: 3 }, "ab", [["", "length must be >= 3, but got 2"]]],
  ["maxLength", { maxLength: 2 }, "abc", [["", "length must be <= 2, but got 3"]]],
  ["lengths count code points", { minLength: 2, maxLength: 2 }, "😀é", []],
  ["maxLength code points bad", { maxLength: 1 }, "😀😀", [["", "length must be <= 1, but got 2"]]],
  ["pattern ok", { pattern: "^[a-z]+$" }, "abc", []],
  ["pattern unanchored", { pattern: "b" }, "abc", []],
  ["pattern bad", { pattern: "^[a-z]+$" }, "aB", [["", "does not match pattern '^[a-z]+$'"]]],
  ["pattern unicode", { pattern: "^.$" }, "😀", []],
  ["pattern invalid", { pattern: "(" }, "x", [["", "invalid pattern '(': Invalid regular expression: /(/u: Unterminated group"]]],
  ["pattern invalid in u mode", { properties: { a: { pattern: "\\q" } } }, { a: "x" }, [["a", "invalid pattern '\\\\q': Invalid regular expression: /\\q/u: Invalid escape"]]],
  ["patternProperties invalid", { patternProperties: { "[": {} } }, { a: 1 }, [["", "invalid pattern '[': Invalid regular expression: /[/u: Unterminated character class"]]],
  ["pattern ignores non-strings", { pattern: "^a$", minLength: 5 }, 12, []],
  // numbers
  ["minimum ok", { minimum: 1 }, 1, []],
  ["minimum bad", { minimum: 1 }, 0, [["", "must be >= 1 but found 0"]]],
  ["maximum bad", { maximum: 1.5 }, 2, [["", "must be <= 1.5 but found 2"]]],
  ["exclusiveMinimum bad", { exclusiveMinimum: 1 }, 1, [["", "must be > 1 but found 1"]]],
  ["exclusiveMinimum ok", { exclusiveMinimum: 1 }, 1.01, []],
  ["exclusiveMaximum bad", { exclusiveMaximum: 0 }, 0, [["", "must be < 0 but found 0"]]],
  ["bounds ignore non-numbers", { minimum: 5, maximum: 1 }, "x", []],
  ["multipleOf ok", { multipleOf: 3 }, 9, []],
  ["multipleOf bad", { multipleOf: 3 }, 10, [["", "10 not multipleOf 3"]]],
  ["multipleOf decimal exact", { multipleOf: 0.1 }, 0.3, []],
  ["multipleOf decimal bad", { multipleOf: 0.01 }, 0.015, [["", "0.015 not multipleOf 0.01"]]],
  ["multipleOf exponent", { multipleOf: 1e-7 }, 3e-7, []],
  ["multipleOf big", { multipleOf: 2 }, 1e21, []],
  // combinators
  ["allOf", { allOf: [{ type: "number" }, { minimum: 2 }, { maximum: 0 }] }, 1, [["", "must be <= 0 but found 1"], ["", "must be >= 2 but found 1"]]],
  ["anyOf ok", { anyOf: [{ type: "string" }, { type: "number" }] }, 1, []],
  ["anyOf bad", { anyOf: [{ type: "string" }, { type: "array" }] }, 1, [["", "expected array, but got number"], ["", "expected string, but got number"]]],
  ["anyOf keeps the telling alternative", { anyOf: [{ properties: { b: { type: "string" } } }, { type: "array" }] }, { b: 1 }, [["b", "expected string, but got number"]]],
  ["oneOf ok", { oneOf: [{ type: "string" }, { type: "number" }] }, "s", []],
  ["oneOf none", { oneOf: [{ minimum: 5 }, { maximum: 1 }] }, 3, [["", "must be <= 1 but found 3"], ["", "must be >= 5 but found 3"]]],
  ["oneOf two", { oneOf: [{ type: "number" }, { minimum: 0 }, { type: "integer" }] }, 1, [["", "valid against schemas at indexes 0 and 1"]]],
  ["not ok", { not: { type: "string" } }, 1, []],
  ["not bad", { not: { type: "string" } }, "s", [["", "not failed"]]],
  ["if/then", { if: { properties: { k: { const: "n" } } }, then: { properties: { v: { type: "number" } } }, else: { properties: { v: { type: "string" } } } }, { k: "n", v: "x" }, [["v", "expected number, but got string"]]],
  ["if/else", { if: { properties: { k: { const: "n" } } }, then: { properties: { v: { type: "number" } } }, else: { properties: { v: { type: "string" } } } }, { k: "s", v: 1 }, [["v", "expected string, but got number"]]],
  ["if without then", { if: { type: "string" }, else: { const: 1 } }, "x", []],
  ["then without if is ignored", { then: false }, 1, []],
  // boolean schemas
  ["true schema", true, { anything: [1] }, []],
  ["false schema", false, null, [["", "not allowed"]]],
  ["empty schema", {}, [1, "a"], []],
  // $ref
  ["$ref $defs", { $defs: { s: { type: "string" } }, properties: { a: { $ref: "#/$defs/s" } } }, { a: 1 }, [["a", "expected string, but got number"]]],
  ["$ref definitions", { definitions: { n: { minimum: 1 } }, items: { $ref: "#/definitions/n" } }, [1, 0], [["1", "must be >= 1 but found 0"]]],
  ["$ref pointer escapes", { $defs: { "a/b": { const: 1 }, "c~d": { const: 2 }, "e f": { const: 3 } }, prefixItems: [{ $ref: "#/$defs/a~1b" }, { $ref: "#/$defs/c~0d" }, { $ref: "#/$defs/e%20f" }] }, [1, 2, 3], []],
  ["$ref pointer escapes bad", { $defs: { "a/b": { const: 1 } }, $ref: "#/$defs/a~1b" }, 2, [["", "value must be 1"]]],
  ["$ref root recursion", { properties: { name: { type: "string" }, children: { items: { $ref: "#" } } } }, { name: "a", children: [{ name: "b", children: [{ name: 3 }] }] }, [["children.0.children.0.name", "expected string, but got number"]]],
  ["$ref with siblings", { $defs: { s: { type: "string" } }, $ref: "#/$defs/s", maxLength: 1 }, "ab", [["", "length must be <= 1, but got 2"]]],
  ["$ref into array", { $defs: { list: [{ type: "string" }] }, $ref: "#/$defs/list/0" }, 1, [["", "expected string, but got number"]]],
  ["$ref cycle", { $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }, 1, [["", "$ref '#/$defs/a' loops without reaching a value"]]],
  ["$ref self cycle", { $ref: "#" }, 1, [["", "$ref '#' loops without reaching a value"]]],
  ["$ref missing", { $ref: "#/$defs/nope" }, 1, [["", "cannot resolve $ref '#/$defs/nope': not found in the schema"]]],
  ["$ref external", { properties: { a: { $ref: "other.json" } } }, { a: 1 }, [["a", `cannot resolve $ref 'other.json': only references inside the schema ("#/…") are supported`]]],
  ["$ref anchor", { $ref: "#foo" }, 1, [["", "cannot resolve $ref '#foo': anchors are not supported"]]],
  // what validate does with what is not a schema or not JSON
  ["unknown keywords ignored", { type: "string", format: "email", title: "t", description: "d", default: 1, examples: [], "x-ui": {} }, "not an email", []],
  ["invalid schema", { properties: { a: 12 } }, { a: 1 }, [["a", "invalid schema: expected an object or a boolean, but got number"]]],
  ["not a JSON value", { type: "object" }, { a: undefined, b: NaN }, []],
  ["not a JSON value checked", { properties: { a: {}, b: {} } }, { a: undefined, b: Infinity }, [["a", "not a JSON value: undefined"], ["b", "not a JSON value: Infinity"]]],
  ["root undefined", { type: "object" }, undefined, [["", "not a JSON value: undefined"]]],
  ["date is not JSON", {}, new Date(0), [["", "not a JSON value: Date"]]],
  // sorting: by path, then message
  ["sorted", { required: ["z"], properties: { b: { type: "string" }, a: { type: "string", minLength: 9 } } }, { b: 1, a: 2 }, [
    ["", "missing properties: 'z'"],
    ["a", "expected string, but got number"],
    ["b", "expected string, but got number"],
  ]],
];

for (const [name, schema, value, want] of cases) {
  test(`validate: ${name}`, () => {
    const got = validate(schema, value).map((p) => [p.path, p.message]);
    assert.deepEqual(got, want);
  });
}

test("validate: an executor input schema, as the server words it", () => {
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    required: ["name"],
    additionalProperties: false,
    properties: {
      name: { type: "string" },
      "a/b": { type: "integer" },
      n: { type: "object", properties: { z: { type: "string" }, y: { minimum: 3 } } },
    },
  };
  const got = validate(schema, { "a/b": "x", n: { z: 1, y: 1 }, extra: 1 });
  // The same document and schema as host/schema's TestProblems.
  assert.deepEqual(got, [
    { path: "", message: "additionalProperties 'extra' not allowed" },
    { path: "", message: "missing properties: 'name'" },
    { path: "a/b", message: "expected integer, but got string" },
    { path: "n.y", message: "must be >= 3 but found 1" },
    { path: "n.z", message: "expected string, but got number" },
  ]);
});

test("validate: never throws on odd schemas", () => {
  const odd = [null, 1, "s", [], { type: 12 }, { items: 3 }, { anyOf: "x" }, { pattern: 5 }, { $ref: 7 }, { required: "a" }, { enum: "a" }];
  for (const schema of odd) {
    assert.doesNotThrow(() => validate(schema, { a: [1] }), JSON.stringify(schema));
  }
  assert.deepEqual(validate({ pattern: 5 }, "x"), [{ path: "", message: "invalid pattern '5': not a string" }]);
  assert.deepEqual(validate({ $ref: 7 }, "x"), [{ path: "", message: "$ref must be a string" }]);
});

test("validate: a cyclic schema that consumes the value terminates", () => {
  const schema = { $defs: { node: { type: "object", properties: { next: { $ref: "#/$defs/node" } } } }, $ref: "#/$defs/node" };
  let value = {};
  for (let i = 0; i < 50; i++) value = { next: value };
  assert.deepEqual(validate(schema, value), []);
  value.next.next = 1;
  assert.deepEqual(validate(schema, value), [{ path: "next.next", message: "expected object, but got number" }]);
});

test("validate: the same invalid pattern used twice is reported for each value", () => {
  const schema = { items: { pattern: "(" } };
  assert.deepEqual(
    validate(schema, ["a", "b"]).map((p) => p.path),
    ["0", "1"],
  );
});

const defaults = [
  ["default wins", { type: "string", default: "x", enum: ["y"] }, "x"],
  ["const", { const: 3 }, 3],
  ["first enum", { enum: ["b", "a"] }, "b"],
  ["nothing known about a string", { type: "string" }, undefined],
  ["nothing known about a number", { type: "integer", minimum: 3 }, undefined],
  ["nothing known at all", {}, undefined],
  ["boolean schema", true, undefined],
  ["not a schema", null, undefined],
  ["array", { type: "array", items: { type: "string", default: "x" } }, []],
  ["array default", { type: "array", default: [1] }, [1]],
  ["object", { type: "object" }, {}],
  ["object without type", { properties: {} }, {}],
  ["object properties", {
    type: "object",
    required: ["name", "mode", "opts", "tags", "free"],
    properties: {
      name: { type: "string" },
      mode: { enum: ["fast", "slow"] },
      opts: { type: "object", required: ["level"], properties: { level: { type: "integer", default: 1 }, extra: { type: "string" } } },
      tags: { type: "array" },
      free: { type: "string" },
      retries: { type: "integer", default: 3 },
      color: { enum: ["red"] },
      nested: { type: "object", properties: { x: { default: 1 } } },
    },
  }, { mode: "fast", opts: { level: 1 }, tags: [], retries: 3 }],
  ["$ref", { $defs: { d: { default: { a: 1 } } }, $ref: "#/$defs/d" }, { a: 1 }],
  ["$ref in a property", { required: ["a"], properties: { a: { $ref: "#/$defs/n" }, b: { $ref: "#/$defs/n" } }, $defs: { n: { default: 5 } } }, { a: 5, b: 5 }],
  ["$ref cycle", { $defs: { a: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }, undefined],
  ["recursive required object", { type: "object", required: ["self"], properties: { self: { $ref: "#" } } }, { self: {} }],
  ["$ref unresolvable", { $ref: "x.json" }, undefined],
];

for (const [name, schema, want] of defaults) {
  test(`defaultValue: ${name}`, () => {
    assert.deepEqual(defaultValue(schema), want);
  });
}

test("defaultValue: returns a copy", () => {
  const schema = { default: { a: [1] } };
  const v = defaultValue(schema);
  v.a.push(2);
  assert.deepEqual(schema.default, { a: [1] });
});

test("jsonEqual", () => {
  assert.ok(jsonEqual({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 }));
  assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: undefined }));
  assert.ok(!jsonEqual([1], { 0: 1 }));
  assert.ok(!jsonEqual(1, "1"));
  assert.ok(!jsonEqual(null, {}));
});

test("resolveRef", () => {
  const root = { $defs: { "%": { a: 1 } } };
  assert.deepEqual(resolveRef(root, "#/$defs/%25"), { schema: { a: 1 } });
  assert.match(resolveRef(root, "#/$defs/%").error, /bad percent-encoding/);
  assert.deepEqual(resolveRef(root, "#"), { schema: root });
});

test("quote", () => {
  assert.equal(quote(`a'b"c\n`), `'a\\'b"c\\n'`);
});
