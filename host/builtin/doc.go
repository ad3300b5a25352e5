// Package builtin holds the executors compiled into the host, and a Catalog of them.
//
// Built-ins need no sandbox: they are pure Go functions of their inputs, report an empty
// plugin hash and no usage beyond their duration, and their handles are stateless (Release
// is a no-op). Chain the built-in catalog in front of the plugin catalog with
// executor.Chain(builtin.Catalog(), plugins) so that built-in ids always resolve to the
// compiled-in behaviour the reference defines.
//
// The only built-in with protocol significance is [AggregateResultsID], the executor of
// the aggregator-root idiom (docs/semantics.md rule 10): it returns every injected dependency result under
// its dependency id, with the reference's summary text.
package builtin
