// Package apflow is the Go SDK for apflow-wasm plugins: write a typed Go function, get a
// WebAssembly module that implements plugin ABI v1 (docs/abi.md).
//
//	package main
//
//	import apflow "github.com/apflow-wasm/apflow/sdk/go"
//
//	type In struct {
//		Text string `json:"text" jsonschema:"required" description:"The text to count"`
//	}
//	type Out struct {
//		Words int `json:"words"`
//	}
//
//	func main() {}
//
//	func init() {
//		apflow.Register(apflow.Executor[In, Out]{
//			ID: "word_count", Version: "1.0.0",
//			Run: func(ctx *apflow.Context, in In) (Out, error) {
//				return Out{Words: len(strings.Fields(in.Text))}, nil
//			},
//		})
//	}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o word_count.wasm .
//
// (-buildmode=c-shared makes a WASI reactor; without it the module is a command and its
// exports trap. func main is required but never runs.)
//
// Guarantees:
//   - Pointers, buffers and their lifetimes are invisible to plugin code: buffers handed to
//     the host are pinned until the host is done with them (docs/abi.md, "Conventions").
//   - Every execute returns valid JSON: the output, or {"error": message, "code": …,
//     "details": …} for a returned error, inputs that do not decode into the input type,
//     an output that does not encode, or a panic in Run. One exception: a non-empty
//     json.RawMessage output is returned as is, unchecked (Executor says why); the host
//     fails the task if it is not JSON, and discards the instance as for any bad result. A panic is recovered (its stack
//     goes to the task's log) instead of trapping, so the task fails with the panic
//     message rather than an opaque trap. Fatal runtime errors (out of memory, deadlock,
//     concurrent map writes) cannot be recovered and still trap; the host then discards
//     the instance. A recovered panic leaves the instance in service, so a Run function
//     that panics while holding global state (locks, half-updated caches) should not keep
//     such state — plugins must not rely on state between executions anyway.
//   - Schemas are derived once per instance from the input and output types (see
//     [Executor]); the derived schemas compile with the host's JSON Schema validator.
//   - Everything except the export glue (files built only for GOOS=wasip1) compiles and
//     runs natively, so Run functions are unit-tested with package apflowtest.
//
// get_metadata carries an additive "kind" field, ["executor"], ["hook"] or both: Go cannot
// vary its exports at run time, so a hook-only Go module still exports execute (answering
// an error). Executor-only modules export no hook functions: those live in package hook,
// linked only when a plugin registers a hook.
//
// Waiting: [Context.Sleep] (host function sleep_ms, capability "clock") is the sleep for
// polling and retry with backoff. It returns an *Error with code "cancelled" or
// "deadline_exceeded" as soon as the task is cancelled or its deadline passes (never
// sleeping past it), so a retry loop stops at once:
//
//	for attempt, wait := 1, 100*time.Millisecond; ; attempt, wait = attempt+1, wait*2 {
//		resp, err := ctx.HTTP(req)
//		if err == nil && resp.Status < 500 || attempt == 5 {
//			return resp, err
//		}
//		if err := ctx.Sleep(wait); err != nil {
//			return nil, err // cancelled or past the deadline: the task is over
//		}
//	}
//
// time.Sleep waits too with the clock grant, but a cancel or deadline ends the call
// inside it without the plugin learning, and without the grant it returns at once.
// In tests, apflowtest.Host's Clock, Deadline and Cancel drive Sleep without waiting.
//
// Storage: instances are recycled, so a plugin keeps nothing in memory between tasks.
// [Context.KVGet], [Context.KVSet], [Context.KVSetIfAbsent], [Context.KVDelete] and
// [Context.KVList] (host functions kv_*, capability "kv", docs/kv.md) keep JSON values
// durably in the plugin's own space (per plugin id and user), with optional TTLs and
// the operator's quotas: a cache of expensive results, or the record of a side effect
// already done, claimed atomically with KVSetIfAbsent. Refusals are *Error values with
// a CodeKV… code. In tests, apflowtest.Host's KV serves them from memory.
//
// Language model: [Context.LLM] (host function llm_complete, capability "llm") asks the
// operator's model; the provider's keys stay in the host and the tokens are counted in
// the task's usage. Refusals are *Error values with a CodeLLM… code (the budget's:
// CodeLLMBudget). In tests, apflowtest.Host's LLM answers them and LLMRequests records
// what was asked.
package apflow
