// Package hooks runs the operator's hook plugins around tasks and task trees
// (docs/semantics.md rule 19, docs/hooks.md): pre-hooks, post-hooks and tree lifecycle hooks are
// WebAssembly modules (docs/abi.md, "Hook exports") called through the sandbox, and a
// [Repository] gives hooks granted `repository` read and update access to tasks.
//
// A [Runner] built by [New] implements the engine's Hooks interface. The hooks it runs
// are the ids of [Config.IDs], in that order (duplicates dropped); each call pins the
// current version of each hook module in the registry and releases it afterwards, so a
// hook module hot-loads like an executor: a replaced module takes effect on the next
// call, and a call in flight finishes on the version it started with.
//
// # Semantics
//
//   - Pre-hooks run in registration order. Each sees {"task", "inputs"} with the inputs
//     as modified by the hooks before it. A result {"inputs": {…}} replaces the inputs;
//     {}, 0 (nothing) or an object without "inputs" leaves them unchanged.
//   - Post-hooks run in registration order, only for completed tasks, and see
//     {"task", "inputs", "result"}; their result is ignored unless it is an error.
//   - Tree hooks (on_tree_created, on_tree_started, on_tree_completed, on_tree_failed)
//     get {"root", "tree"}, {"root"}, {"root", "status"} and {"root", "status",
//     "message"}. Their failures are logged only: there is no task to record them on.
//   - A hook module whose get_hook_config names executors runs its pre- and post-hook
//     only around tasks of those executors; tree hooks always run.
//
// # Guarantees
//
//   - A hook never fails, stalls or changes the status of a task. A hook that traps,
//     exceeds its limits (wall time: [Config.Limits], default [DefaultTimeoutMS]),
//     returns {"error": …}, returns a malformed result, or is not loaded produces an
//     *[Error] naming the hook and the export; the chain continues with the inputs as
//     they were before that hook.
//   - A hook id that is configured but not loaded yields the error "hook X is not
//     loaded" on every task it would have run around (so that hook_errors shows it), and
//     one log line each time the hook goes missing or comes back, not one per task.
//   - Hook calls never use a task's own limits: hooks run under the operator's hook
//     limits only, so a task cannot give a hook more time or memory.
package hooks
