// Package pluginrun runs a plugin outside a task tree, the way a plugin author iterates
// on it: one call with chosen inputs, grants and limits ([Runner.Call], behind
// `apflow call`), and a file of cases checked against expected results, errors and log
// lines ([Runner.RunCases], behind `apflow test`). docs/writing-plugins.md, "Call and
// test a plugin without a tree", describes both from the outside.
//
// # Guarantees
//
//   - A call goes through the same code as a task's execution: the module is loaded by
//     host/sandbox (a file) or host/registry (an id in a plugins directory), its inputs
//     are validated against its input schema by [sandbox.Module.Execute], and it runs
//     under the same limits (the sandbox's defaults, overridden per call and clamped to
//     the maxima) and with only the grants the call gives (default deny).
//   - Nothing is stored: there is no task store and no compilation cache on disk; the kv
//     grant is served by an in-memory store that lives for one call (one case).
//   - With [Call.HTTP] set to a [Fixture], the plugin's http_request calls are answered
//     from recorded pairs and reach no network; a request no pair answers fails in the
//     plugin with an error naming its method and URL, and is listed in
//     [Outcome.Unmatched]. A [Recorder] records real requests (under the grants).
//   - A Runner runs one call at a time: calls are serialised, because the grants and kv
//     store of the runtime are those of the call in progress.
//
// # Pitfalls
//
// An id is looked up as <dir>/<id>.wasm first (the file name registry.Add gives a
// plugin), loaded alone when it declares that id: where another file of the directory
// declares the same id and sorts before it, the registry, and so a task, uses that other
// file instead (apflow plugins list shows <id>.wasm as not loaded). Otherwise every plugin of the
// directory is loaded (without the metadata cache, which needs a data dir), which for a
// directory of Go plugins takes seconds to minutes; give the .wasm file to load only it.
package pluginrun
