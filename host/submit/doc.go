// Package submit turns a submitted task tree (a tree file, or the params of tasks.create
// and tasks.execute) into tasks ready for [store.Store.Create].
//
// A submission is a JSON array of task objects, an object {"tasks": [...]}, or a single
// task object. [Decode] parses it into [Spec]s without judging the tree; [Validate] checks
// the whole submission and builds the tasks; [Prepare] does both. [ValidateTree] and
// [PrepareTree] return a [Tree] instead, which builds each task when it is read (a
// store.Batch): a large submission is then never held whole as tasks.
//
// Guarantees:
//   - Nothing outside the submission is touched: the only outside calls are
//     [executor.Catalog.Lookup] (every handle is released before returning) and the
//     optional existence look-ups of [Options].
//   - The whole submission is checked before any task is returned, and every problem
//     found is reported at once in one *apferr.Error built by [apferr.Problems]. Problems
//     are ordered by class (structure and types, user, roots, duplicates, parent
//     references, parent cycles, dependency references, dependency cycles, priority,
//     executors, inputs, existing ids), so the error's code is that of the first class
//     that failed. A submission is rejected whole.
//   - Every error returned is an *apferr.Error, except context errors and errors of the
//     look-up functions, which are wrapped with %w.
//   - Input size and nesting depth are bounded before any decoding, and no check recurses
//     over the submission: chains of 100,000 tasks (by parent or by dependency) validate in
//     linear time with constant stack.
//
// See docs/tree-format.md for the format reference and schemas/tree.schema.json for its
// JSON Schema.
package submit
