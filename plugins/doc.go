// Package plugins holds the first-party apflow executors, one main package per directory,
// each built with the Go SDK to build/plugins/<id>.wasm by `make plugins`:
//
//   - text_stats: character, word, line and sentence counts and the most frequent words.
//   - math_ops: count, sum, mean, median, min, max, variance, standard deviation, product.
//   - delay: waits for a duration in steps, reporting progress.
//   - rest_executor: HTTP requests through the host's http capability.
//   - llm_executor: one completion of the operator's language model through the host's
//     llm capability (messages in, the answer and its token usage out).
//   - json_transform: pick, rename, omit and set fields by dotted path, and {{path}}
//     templates over the inputs.
//
// This package itself only carries the test that builds every plugin for wasip1 and runs
// them through the host sandbox.
package plugins
