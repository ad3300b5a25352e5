// Package schema is the host's one way to compile JSON Schemas, validate documents
// against them and report what failed.
//
// Every schema the host compiles goes through [Compile] or a [Cache]: plugins' input
// schemas, tasks' own schemas.input_schema, the operator config schema and the API's
// params schemas. They all get the same settings:
//
//   - Nothing is loaded from outside the document: a $ref to another document (a file, a
//     URL, a relative name) fails to compile. Schemas from plugins and clients are
//     untrusted, so compiling one must never make the host read a file or call a URL.
//     The standard meta-schemas are built in.
//   - A schema without "$schema" is read in the [Draft] its caller names: [Draft7] for
//     task schemas and the API (the protocol's draft), [Draft2020] for plugin schemas and
//     the config file. "$schema" picks drafts 4, 6, 7, 2019-09 or 2020-12.
//   - The third-party compiler and validator are fed client schemas: a panic in either
//     becomes an error.
//
// A failed validation is an *[Error] whose [Error.Problems] are the failing leaves, each
// a [Problem] naming the field (instance location) and the reason, sorted so that the
// same failure always reads the same. [Describe] renders them in the host's style,
// "inputs.name: expected string, but got number; inputs: missing properties: 'x'".
//
// A [Cache] compiles each distinct document once (keyed by its sha256), is bounded
// (least recently used entries are dropped) and is safe for concurrent use; concurrent
// requests for the same document wait for one compilation.
package schema
