// Package generate turns a requirement written in words into a task tree that
// tasks.create accepts, by asking a large language model.
//
// A tour, file by file:
//   - generate.go: [Generator] and its [Config] (the model, the executor catalog and the
//     submission validator, each through a small interface), [Request], [Result], and the
//     two modes: [Single] (one answer) and [Multi] (analyse → design → fill inputs →
//     review, with bounded repair rounds).
//   - prompt.go: the prompt, built deterministically from the catalog (every executor's
//     id, description, input and output schemas, each bounded, the catalog too), the
//     tree format (docs/tree-format.md)
//     and the rules a tree must follow (docs/semantics.md rules 4, 8 and 10).
//   - parse.go: extracting the task array from the model's text (```json fences, prose
//     around the JSON, {"tasks": [...]} or one object).
//   - fix.go: the mechanical fixes applied before validation: several roots wrapped in an
//     aggregate_results_executor root, parent_id given as a name replaced by the task's
//     id, every task given a fresh id (references to the model's ids rewritten).
//   - problems.go: the validator's problems as the model reads them, and the typed errors.
//
// Guarantees:
//   - A Result's Tasks always passed Config.Validate (or Request.Validate), which callers give as the very
//     check tasks.create applies (host/api SubmitPrepare, host/submit Prepare); the
//     package never re-implements a rule of that check.
//   - When no valid tree is obtained, Generate fails with a *NoValidTreeError (matched by
//     errors.Is(err, ErrNoValidTree)) listing the last problems found. Every failure
//     after the request was accepted returns a Result with the tokens spent (Usage).
//   - Each answer is bounded by Config.MaxTokens (DefaultMaxTokens); an answer the
//     provider cut there is a problem of its own.
//   - Errors of the Completer end the generation at once and stay matchable:
//     llm.ErrBudget, llm.ErrNotConfigured, llm.ErrProvider, context.DeadlineExceeded and
//     context.Canceled all satisfy errors.Is on the returned error.
//   - The number of model calls is bounded: one in Single mode; three plus
//     Request.MaxRounds in Multi mode.
//
// See docs/generate.md for the prompt layout, the modes and the evaluation set.
package generate
