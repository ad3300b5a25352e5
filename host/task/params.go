package task

import (
	"github.com/apflow-wasm/apflow/host/retry"
)

// CheckParams checks a task's params as every writer of them does (a submission,
// tasks.update, a hook's update_task, a copy's reset_fields), so that each refuses the
// same: params.executor_id, when given and not null, is a non-empty string (an executor
// id); params.retry is a retry policy (docs/retries.md); and the limits, in
// params.limits or in the task's own limits field (top, with given true when that field
// was present), are valid and are moved out of params (PlaceLimits, whose l and set it
// returns). probs holds every problem, in that order; an executor_id with a problem is
// removed from params, so that nothing after the check acts on it.
func CheckParams(top any, given bool, params map[string]any) (l Limits, set bool, probs []FieldProblem) {
	if e, ok := params["executor_id"]; ok && e != nil {
		if s, isStr := e.(string); !isStr || s == "" {
			probs = append(probs, FieldProblem{Field: "params.executor_id", Reason: "must be a non-empty string (an executor id)",
				Expected: "string", Actual: Summarize(e)})
			delete(params, "executor_id")
		}
	}
	_, rp := retry.FromParamsAll(params)
	for _, fe := range rp {
		probs = append(probs, FieldProblem{Field: fe.Field, Reason: fe.Reason,
			Expected: "a retry policy (docs/retries.md)", Actual: Summarize(params["retry"])})
	}
	l, set, lp := PlaceLimits(top, given, params)
	return l, set, append(probs, lp...)
}
