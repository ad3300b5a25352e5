// Package task defines the apflow task model: the Task record, its statuses, the state
// machine that governs every status change, and the wire form of tasks and task trees.
//
// Every component that stores, runs or serves tasks shares these types. The package has no
// I/O: it only says what a task is and which changes to it are legal. The single place that
// decides whether a status change is allowed is [CheckTransition]; stores call it on every
// write so that no code path can move a task along an edge the protocol forbids.
//
// Wire form: a Task marshals to the JSON shape of the Python apflow reference (all columns,
// nullable columns as null, timestamps as ISO-8601 UTC with microseconds), so existing
// apflow clients can read it unchanged. It is written field by field (encode.go, one
// table for MarshalJSON and [Fields]), the bytes encoding/json would write for it, and
// read through encoding/json (marshal.go).
package task
