package submit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apflow-wasm/apflow/host/task"
)

// digestVersion changes whenever the canonical form below changes, so that digests of
// different forms never compare equal.
const digestVersion = 1

// canonicalSpec is the canonical form of one Spec for Digest: every field the server
// reads from a submitted task, under fixed names. Maps are encoded with sorted keys and
// numbers as spelled (json.Number), times in UTC.
type canonicalSpec struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Parent       string         `json:"parent_id"`
	TreeID       string         `json:"task_tree_id"`
	UserID       string         `json:"user_id"`
	Priority     *int           `json:"priority"`
	Dependencies []DepRef       `json:"dependencies"`
	Inputs       map[string]any `json:"inputs"`
	Params       map[string]any `json:"params"`
	Schemas      map[string]any `json:"schemas"`
	Limits       task.Limits    `json:"limits"`
	ScheduleType string         `json:"schedule_type"`
	ScheduleExpr string         `json:"schedule_expression"`
	ScheduleOn   bool           `json:"schedule_enabled"`
	ScheduleFrom string         `json:"schedule_start_at"`
	ScheduleTo   string         `json:"schedule_end_at"`
	MaxRuns      int            `json:"max_runs"`
}

// Digest returns the content digest of a decoded submission: the hex sha256 of a
// canonical JSON encoding of its tasks in submission order. Two submissions have the
// same digest exactly when they give the same tasks in the same order: the same value
// of every field the server reads (ids and task_tree_id after namespace
// qualification, parent_id and dependency references as given, inputs, params and
// schemas with their numbers as spelled). The top-level form (array, {"tasks": [...]}
// or one object), the order of keys in objects, white space and fields the server
// ignores do not count. See docs/api.md, "Idempotency keys".
func (sub *Submission) Digest() (string, error) {
	specs := make([]canonicalSpec, len(sub.Specs))
	for i, s := range sub.Specs {
		specs[i] = canonicalSpec{
			ID: s.ID, Name: s.Name, Parent: s.Parent, TreeID: s.TreeID, UserID: s.UserID,
			Priority: s.Priority, Dependencies: s.Dependencies,
			Inputs: s.Inputs, Params: s.Params, Schemas: s.Schemas, Limits: s.Limits,
			ScheduleType: s.ScheduleType, ScheduleExpr: s.ScheduleExpression, ScheduleOn: s.ScheduleEnabled,
			ScheduleFrom: canonicalTime(s.ScheduleStartAt), ScheduleTo: canonicalTime(s.ScheduleEndAt),
			MaxRuns: s.MaxRuns,
		}
	}
	b, err := json.Marshal(struct {
		Version int             `json:"v"`
		Tasks   []canonicalSpec `json:"tasks"`
	}{digestVersion, specs})
	if err != nil {
		return "", fmt.Errorf("encode the canonical form of a submission: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func canonicalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
