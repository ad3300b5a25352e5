// Package sandbox is the one place a plugin is called: it loads WebAssembly plugins
// (docs/abi.md, ABI v1) into a wazero runtime and runs their executor and hook exports
// under limits, with the apflow host functions and the capabilities the operator granted.
//
// # Use
//
// A process creates one [Runtime] with [New]; [Runtime.Load] turns a module's bytes into
// a [Module] (an executor.Executor), which [Module.Execute] and [Module.CallHook] call
// any number of times concurrently. [Module.Close] unloads a module version once its
// calls in flight are done.
//
// [Module.Describe] returns what Load learned (a JSON-serialisable [Description], keyed by
// content hash); [Runtime.LoadDescribed] registers the same bytes from it later without
// compiling or instantiating them, and [Module.Ready] (which every call makes) compiles
// and checks them against the description on first use. A process that opens many plugins
// and runs few pays only for those it runs. [Runtime.Stats] counts loads, compilations and
// instances.
//
// The metadata kind (docs/abi.md#metadata-kind) decides a module's roles when present: a
// module whose kind lacks "executor" is not an executor even if it exports execute, one
// whose kind lacks "hook" offers no hook exports; a role the exports cannot play, an
// unknown role or an empty kind rejects the module.
//
// # Guarantees
//
//   - Load rejects, with an *[Error] of KindInvalid naming the plugin and the problem, a
//     module that does not compile as written (it is validated before the host rewrites
//     it), imports anything but the functions of wasi_snapshot_preview1 and apflow the
//     host provides (with their exact signatures), lacks a required export or has one
//     with a wrong signature, exports a name the host reserves (apflow:stack,
//     apflow:stack_peak, apflow:interrupt, apflow:start), declares a minimum memory above the operator's
//     maximum, does not finish its start function, _initialize and its metadata getters
//     within Config.LoadTimeout, or has an input schema that does not compile. A Load
//     that fails because the Runtime is closing fails with KindClosed instead.
//   - Every call runs under a wall-time limit, a memory limit and a result size limit
//     (task overrides over operator defaults, clamped to operator maxima). A call that
//     exceeds its time or is cancelled is interrupted (the interrupt checks the module
//     rewrite inserts at every loop and call), within milliseconds, even in a loop without calls or while it sleeps or waits for
//     an HTTP response; so is every call when the Runtime closes (KindCancelled), and
//     Runtime.Close never closes wazero under a call still running: when its context
//     ends first it returns, and the runtime is closed once the last call has returned.
//   - Whatever the guest does (trap, loop, memory bomb, stack overflow, exit, panic, bad
//     result), the call returns an *[Error] saying what happened, the instance is
//     discarded, the host keeps running, and the next call gets a healthy instance.
//   - One execution is exactly two guest calls (alloc, then execute), plus one re-entrant
//     alloc per host function that returns data. Such allocs may nest (an alloc calling a
//     host function that returns data) at most 4 deep; deeper, the call fails.
//   - A call's apflow.log lines, like its stdout and stderr, are capped at 1 MiB (each
//     log line also costs 64 bytes); the rest is dropped with one warning.
//   - Default deny: a plugin gets only log and progress unless [Config.Grants] grants more.
//   - The kv_* functions (kv.go, docs/kv.md) keep an executor's entries in
//     [Config.KV] under the space of its plugin id and its task's user, within its
//     grant's quotas; an ungranted call, a hook's call, a bad request or a quota refusal
//     answers {"error", "code"} and never traps.
//   - apflow.llm_complete (llm.go, docs/abi.md) asks [Config.LLM] under the call's
//     context (the caller's, so what the caller put in it reaches the Completer); the
//     tokens of its answers are summed into the call's task.Usage. An ungranted call, a
//     bad request or a Completer's error answers {"error", "code"} and never traps.
//   - An execution's inputs are validated against the module's input schema exactly once
//     before the plugin runs: by [Module.Execute], before any guest call, unless the
//     caller validated them itself and says so (executor.Request.Validated, which the
//     engine sets). Input schemas are compiled by host/schema: they may not $ref
//     anything outside themselves.
//
// # Memory limits
//
// wazero's memory limit is runtime-wide, while limits here are per task. Rather than one
// wazero runtime per distinct limit (each would recompile or reload every module and keep
// its own copy of the machine code), the package uses one runtime and gives every instance
// its own linear memory through wazero's experimental MemoryAllocator: the allocator's
// memory refuses to grow past a limit that the pool sets before each call, so memory.grow
// returns -1 in the guest, and a call that then fails is reported as "out of memory:
// memory limit N pages (X MiB) reached". The declared minimum is checked before
// instantiation: a module whose minimum is above the call's limit fails cleanly, without
// allocating. Memory never shrinks, so the memory size after a call is its peak.
//
// On Linux that memory is a mapping outside the Go heap: pages the guest never writes
// cost nothing, the collector does not count guests' memory, and an instance's memory
// goes back to the system when it closes. Guest memory is therefore only read through
// copies, and is never unmapped while a call may run on it (memory.go).
//
// The call stack lives outside linear memory too (wazero grows it on the Go heap, up to
// about 100 MB), so the module is also rewritten for each of its functions to charge
// its frame, on entry, to a stack budget of 8 MiB (maxStackBytes; see stack.go): a call
// past it fails with KindStackOverflow ("call stack exhausted") and its instance is
// discarded.
//
// Function tables live outside linear memory, so the module's table section is rewritten
// before compilation: every table gets a maximum of at most 2^20 entries (a table without
// one gets that), and a module declaring a larger minimum, or tables that could reach
// 2^22 entries in all, is rejected at load.
//
// # Pooling
//
// Each Module keeps a LIFO pool of idle instances (Config.PoolSize). An instance serves
// one call at a time; it is discarded after any failure (trap, timeout, interrupt, limit
// hit, bad result) and never reused, recycled after Config.RecycleAfter calls, when its
// memory grew past Config.RecycleMemoryPages (default: the larger of twice its size
// after _initialize plus 64 pages and the operator's default memory limit, so that a Go
// guest whose heap settled within that limit stays warm) or when its call stack grew
// past 256 KiB (poolStackBytes), and replaced when the plugin's clock or random grants
// changed or when it is larger than the next call's memory limit (a call never runs in
// an instance bigger than its own limit). [Module.Stats] returns the pool's counters.
// A plugin must not rely on state surviving, or not surviving, between calls.
//
// # Interrupts
//
// The module rewrite puts an interrupt check at the start of every loop body and of
// every function (interrupt.go): when the context of a call is done, the host raises
// the instance's interrupt flag and the guest traps at its next check. The context of
// a call carries the wall-time deadline, the caller's cancellation and the runtime's
// closing, and the call state that host functions read (task logger, progress, grants,
// repository). A guest blocked in a host call reaches no check, so every host
// call that can block (the sleep of poll_oneoff under the clock grant, http_request,
// llm_complete, store_call) watches that context and, when it is done, aborts the guest call with the
// timeout or cancel error (see interrupt.go). An interrupted instance (its flag raised)
// is closed for good and never returned to the pool.
//
// apflow.sleep_ms (sleep.go, under the clock grant) is the one blocking host call that
// returns to the guest when the context ends: it answers SleepCancelled or SleepDeadline
// so that a plugin's retry loop can stop, and marks the call ended, so that the call
// fails as cancelled or timed out all the same, whether the guest then returns a result
// or an interrupt check stops it first. It never sleeps past the deadline, holds the
// instance (the call is running) and burns no CPU while it waits.
package sandbox
