package task

import (
	"fmt"

	"github.com/apflow-wasm/apflow/host/apferr"
)

// Status is the lifecycle state of a task.
type Status string

// The five statuses of the apflow protocol.
const (
	Pending    Status = "pending"
	InProgress Status = "in_progress"
	Completed  Status = "completed"
	Failed     Status = "failed"
	Cancelled  Status = "cancelled"
)

// Statuses lists every valid status in lifecycle order.
var Statuses = []Status{Pending, InProgress, Completed, Failed, Cancelled}

// Valid reports whether s is one of the five protocol statuses.
func (s Status) Valid() bool {
	switch s {
	case Pending, InProgress, Completed, Failed, Cancelled:
		return true
	}
	return false
}

// Terminal reports whether s ends a run of the task: completed, failed or cancelled.
func (s Status) Terminal() bool {
	return s == Completed || s == Failed || s == Cancelled
}

// transitions is the state machine (docs/semantics.md rule 1): the protocol's, plus the re-execution edges the
// protocol allows when re-execution is supported (completed→pending, cancelled→pending).
// A re-execution is always an explicit reset to pending followed by the normal start edge.
var transitions = map[Status][]Status{
	Pending:    {InProgress, Cancelled},
	InProgress: {Completed, Failed, Cancelled, Pending}, // →pending: crash recovery, or a failed attempt waiting for its retry
	Completed:  {Pending},
	Failed:     {Pending},
	Cancelled:  {Pending},
}

// CheckTransition returns nil when a task may move from one status to another, and an
// *apferr.Error with code InvalidTransition otherwise. Staying in the same status is
// always allowed (a write that changes other fields).
//
// in_progress→pending is allowed because crash recovery puts interrupted tasks back in
// the queue; clients cannot reach it through the API, which only exposes cancel and
// re-execution.
func CheckTransition(from, to Status) error {
	if from == to {
		return nil
	}
	if !to.Valid() {
		return apferr.New(apferr.InvalidParams, fmt.Sprintf("invalid status %q", to)).
			WithData(map[string]any{"field": "status", "reason": "not a valid status", "actual": string(to),
				"expected": "pending, in_progress, completed, failed or cancelled"})
	}
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return apferr.New(apferr.InvalidTransition,
		fmt.Sprintf("Invalid state transition: cannot transition from '%s' to '%s'", from, to)).
		WithData(map[string]any{
			"current_status":       string(from),
			"attempted_transition": fmt.Sprintf("%s -> %s", from, to),
			"reason":               "not allowed by the task state machine",
		})
}
